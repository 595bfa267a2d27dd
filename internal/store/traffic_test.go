package store

import (
	"context"
	"errors"
	"testing"
)

func TestTrafficWeights(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	seedApp(t, s, "other")
	d1, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		listener string
		weights  map[string]int
	}{
		{"test", map[string]int{"green": 100}},
		{"production", map[string]int{"blue": 90, "green": 10}},
		{"production", map[string]int{"blue": 0, "green": 100}},
	}
	for _, st := range steps {
		if _, err := s.RecordWeights(ctx, d1.ID, st.listener, st.weights); err != nil {
			t.Fatal(err)
		}
	}
	history, err := s.WeightHistory(ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != len(steps) {
		t.Fatalf("history = %+v", history)
	}
	for i, st := range steps {
		h := history[i]
		if h.Listener != st.listener || !same(h.Weights, st.weights) || h.App != "hello" || h.At.IsZero() {
			t.Errorf("change %d = %+v, want %s %v", i, h, st.listener, st.weights)
		}
	}
	if n := len(eventTypes(t, s, EventFilter{Deployment: d1.ID, Types: []string{EventTrafficShift}})); n != 3 {
		t.Errorf("traffic.shift events = %d, want 3", n)
	}

	// A later deployment's shifts replace earlier ones per listener.
	if _, err := s.UpdateDeployment(ctx, d1.ID, func(d *Deployment) error { d.Status = DeploymentSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}
	d2, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordWeights(ctx, d2.ID, "production", map[string]int{"blue": 50, "green": 50}); err != nil {
		t.Fatal(err)
	}
	current, err := s.CurrentWeights(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(current) != 2 ||
		current[0].Listener != "production" || current[0].DeploymentID != d2.ID || current[0].Weights["green"] != 50 ||
		current[1].Listener != "test" || current[1].DeploymentID != d1.ID {
		t.Fatalf("CurrentWeights = %+v", current)
	}
	if other, err := s.CurrentWeights(ctx, "other"); err != nil || len(other) != 0 {
		t.Fatalf("CurrentWeights(other) = %+v, %v; want none", other, err)
	}
}

func TestRecordWeightsRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		deployment string
		listener   string
		weights    map[string]int
		want       error
	}{
		{"no listener", d.ID, "", map[string]int{"blue": 100}, ErrInvalid},
		{"no weights", d.ID, "production", nil, ErrInvalid},
		{"negative", d.ID, "production", map[string]int{"blue": -1}, ErrInvalid},
		{"unknown deployment", "nope", "production", map[string]int{"blue": 100}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.RecordWeights(ctx, tt.deployment, tt.listener, tt.weights); !errors.Is(err, tt.want) {
				t.Fatalf("RecordWeights = %v, want %v", err, tt.want)
			}
		})
	}
}
