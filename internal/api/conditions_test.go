package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

func (p *scriptedPipelines) Override(ctx context.Context, id string) error {
	p.calls.Add(1)
	return p.err
}

func TestPipelineConditionsSettings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin, err := Connect(f.remote, f.secrets["admin"])
	if err != nil {
		t.Fatal(err)
	}
	want := PipelineConditions{DeployWindow: "Mon-Fri 09:00-17:00", TimeZone: "Europe/Berlin", WindowResult: "retry",
		NoOpenAlarm: "fail", RetryInterval: "30s", BakeTime: "10m"}
	p, err := admin.SetPipeline(ctx, "hello", PipelineSettings{Conditions: &want})
	if err != nil {
		t.Fatal(err)
	}
	if p.Settings.Conditions == nil || *p.Settings.Conditions != want {
		t.Fatalf("conditions after PUT = %+v, want %+v", p.Settings.Conditions, want)
	}

	before := f.state(t)
	for _, tc := range []struct {
		c    PipelineConditions
		want string
	}{
		{PipelineConditions{DeployWindow: "Mon-Fry 09:00-17:00"}, `conditions: deploy window "Mon-Fry 09:00-17:00": column 5: unknown day "Fry"`},
		{PipelineConditions{DeployWindow: "09:00-17:00", TimeZone: "Berlin"}, `time zone "Berlin": not an IANA time zone`},
		{PipelineConditions{NoOpenAlarm: "always"}, `no_open_alarm "always": use retry or fail`},
		{PipelineConditions{BakeTime: "ten minutes"}, `conditions.bake_time "ten minutes" is not a duration`},
		{PipelineConditions{BakeTime: "-1m"}, "bake time -1m0s: use 0 (off) or 1s to 24h"},
	} {
		_, err := admin.SetPipeline(ctx, "hello", PipelineSettings{Conditions: &tc.c})
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PUT %+v: %v, want 400 with %q", tc.c, err, tc.want)
		}
	}
	if after := f.state(t); after != before {
		t.Errorf("refused PUTs changed state: %+v -> %+v", before, after)
	}
	if p, err := admin.Pipeline(ctx, "hello"); err != nil || p.Settings.Conditions == nil || *p.Settings.Conditions != want {
		t.Fatalf("conditions after refused PUTs = %+v, %v; want %+v", p.Settings.Conditions, err, want)
	}
}

func TestOverride(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	deployer, err := Connect(f.remote, f.secrets["deployer"])
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *Error
	if _, err := deployer.ActOnExecution(ctx, f.exec.ID, "override", ""); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Fatalf("override with a deploy token: %v, want 403", err)
	}
	f.p.err = pipeline.ErrNoConditionWaiting
	admin, err := Connect(f.remote, f.secrets["admin"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ActOnExecution(ctx, f.exec.ID, "override", ""); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Fatalf("override of an execution not waiting: %v, want 409", err)
	}
	f.p.err = nil
	if _, err := admin.ActOnExecution(ctx, f.exec.ID, "override", "hotfix"); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.Events(ctx, store.EventFilter{Types: []string{EventPipelineAction}})
	if err != nil || len(evs) != 1 || evs[0].Actor != "token:admin" || !strings.Contains(string(evs[0].Data), `"action":"override","comment":"hotfix"`) {
		t.Fatalf("pipeline.action events %+v, %v; want the override by token:admin", evs, err)
	}
}
