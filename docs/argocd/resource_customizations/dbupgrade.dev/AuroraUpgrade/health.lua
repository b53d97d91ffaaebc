-- Argo CD health check for dbupgrade.dev/AuroraUpgrade (Lua 5.1, as Argo CD's gopher-lua runs it).
-- Healthy at Completed; Degraded at Failed or Aborted, or while the operator reports Stalled;
-- Suspended while switchover waits for an approval, for the maintenance window, or for a person to
-- authorise another attempt after AWS did not carry one out, or to look at green after a validation
-- check failed; Progressing
-- otherwise, and until the operator has acted on the latest spec. The message is status.message.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the operator to report status"
local status = obj.status
if status == nil or status.phase == nil then
  return hs
end
if status.message ~= nil then
  hs.message = status.message
end
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.message = "Waiting for the operator to act on generation " .. generation
  return hs
end
local stalled = false
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Stalled" and condition.status == "True" then
      stalled = true
    end
  end
end
if status.phase == "Completed" then
  hs.status = "Healthy"
elseif status.phase == "Failed" or status.phase == "Aborted" or stalled then
  hs.status = "Degraded"
elseif status.reason == "AwaitingApproval" or status.reason == "OutsideMaintenanceWindow"
    or status.reason == "SwitchoverNotCarriedOut" or status.reason == "ClusterBusy"
    or status.reason == "RetainingOldCluster" or status.reason == "AwaitingManualReboot"
    or status.reason == "ValidationFailed" or status.reason == "CreateLimitReached" then
  hs.status = "Suspended"
end
return hs
