package main

// Argo CD's health-script runtime, following util/lua/lua.go in argoproj/argo-cd (its
// runLua and ExecuteHealthLua): gopher-lua, the package, base and table libraries always
// and every standard library only with useOpenLibs (as for Argo CD's built-in scripts), a
// one-second deadline, `obj` decoded from the object as Argo CD decodes it, and the returned
// table read back through gopher-json. Argo CD's own package cannot be imported here: it pulls
// in its gitops-engine module, which does not build in this environment. Argo CD also loads a
// restricted `os` library; health.lua does not use `os`, so it is left out, which is stricter.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// HealthStatus is Argo CD's health.HealthStatus: the fields a health script returns.
type HealthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// validHealthCodes are the statuses Argo CD accepts from a script; any other becomes Unknown.
var validHealthCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

const invalidHealthStatus = "Lua returned an invalid health status"

// ArgoHealth runs a health script on an object as Argo CD does.
func ArgoHealth(obj map[string]any, script string, openLibs bool) (HealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return HealthStatus{}, fmt.Errorf("opening Lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		return HealthStatus{}, err
	}
	returned := l.Get(-1)
	if returned.Type() == lua.LTNil {
		return HealthStatus{}, nil
	}
	if returned.Type() != lua.LTTable {
		return HealthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", returned.Type())
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		return HealthStatus{}, err
	}
	var result HealthStatus
	if err := json.Unmarshal(encoded, &result); err != nil {
		return HealthStatus{}, fmt.Errorf("health script returned %s: %w", encoded, err)
	}
	if !validHealthCodes[result.Status] {
		return HealthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
	}
	return result, nil
}

// decodeValue turns a decoded Kubernetes object into Lua values the way Argo CD's decodeValue
// does: numbers of every Go type become Lua numbers, and anything unknown becomes nil.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(decodeValue(l, item))
		}
		return table
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return table
	}
	return lua.LNil
}
