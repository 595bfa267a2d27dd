package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/store"
)

// masked stands for a value the caller may not read.
const masked = "***"

// appForCaller returns a as the caller in ctx may see it. The values of
// the service's environment (cutover.yaml's service.env, `cutover deploy
// --env`) often hold secrets: only admin reads them; other roles see the
// keys with masked values.
func appForCaller(ctx context.Context, a store.App) (store.App, error) {
	if p, ok := auth.FromContext(ctx); ok && p.Allows(store.RoleAdmin) {
		return a, nil
	}
	spec, err := maskServiceEnv(a.Spec)
	if err != nil {
		return store.App{}, fmt.Errorf("masking the environment of app %s: %w", a.Name, err)
	}
	a.Spec = spec
	return a, nil
}

// maskServiceEnv returns spec, a config.App as the deployment controller
// encodes it, with every value of Service.Env and Service.ConfigVars
// replaced by masked. The
// rest of spec is kept. Field names match as encoding/json matches them
// when the spec is decoded: without regard to case.
func maskServiceEnv(spec json.RawMessage) (json.RawMessage, error) {
	if len(spec) == 0 {
		return spec, nil
	}
	return maskField(spec, "Service", func(service json.RawMessage) (json.RawMessage, error) {
		service, err := maskField(service, "Env", maskValues)
		if err != nil {
			return nil, err
		}
		return maskField(service, "ConfigVars", maskValues)
	})
}

// maskField returns the JSON object obj with the value of each field
// called name (in any case) replaced by mask's result.
func maskField(obj json.RawMessage, name string, mask func(json.RawMessage) (json.RawMessage, error)) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return nil, fmt.Errorf("decoding the app's spec: %w", err)
	}
	changed := false
	for k, v := range fields {
		if !strings.EqualFold(k, name) || string(v) == "null" {
			continue
		}
		m, err := mask(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if !bytes.Equal(m, v) {
			fields[k], changed = m, true
		}
	}
	if !changed {
		return obj, nil
	}
	return json.Marshal(fields)
}

// maskValues returns the JSON object env with each value masked.
func maskValues(env json.RawMessage) (json.RawMessage, error) {
	var values map[string]json.RawMessage
	if err := json.Unmarshal(env, &values); err != nil {
		return nil, fmt.Errorf("decoding the environment: %w", err)
	}
	for k := range values {
		values[k] = json.RawMessage(`"` + masked + `"`)
	}
	return json.Marshal(values)
}

// eventForCaller returns ev as the caller in ctx may see it: every
// environment it carries (an app's, a revision's, a deployment's
// configuration) is masked for all but admin (maskEnvJSON). Event
// streams are not JSON responses, so the masking writer does not see
// them.
func eventForCaller(ctx context.Context, ev store.Event) store.Event {
	if p, ok := auth.FromContext(ctx); ok && p.Allows(store.RoleAdmin) {
		return ev
	}
	ev.Data = json.RawMessage(maskEnvJSON(ev.Data))
	return ev
}
