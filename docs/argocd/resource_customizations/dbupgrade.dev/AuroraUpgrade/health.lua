-- Argo CD health check for dbupgrade.dev/AuroraUpgrade.
-- Install as resource.customizations.health.dbupgrade.dev_AuroraUpgrade in argocd-cm.
hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the operator"
if obj.status == nil then
  return hs
end
if obj.status.message ~= nil then
  hs.message = obj.status.message
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  return hs
end
local phase = obj.status.phase
if phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "Aborted" then
  hs.status = "Degraded"
elseif phase == "AwaitingSwitchover" and obj.status.reason == "AwaitingApproval" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
end
return hs
