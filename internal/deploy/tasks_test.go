package deploy

import (
	"reflect"
	"testing"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

func TestTaskSpecByRuntime(t *testing.T) {
	tests := []struct {
		name       string
		service    config.Service
		artifact   string
		wantImage  string
		wantDir    string
		wantLabels map[string]string
	}{
		{
			name:       "process",
			service:    config.Service{Runtime: config.RuntimeProcess, Command: []string{"./run"}},
			artifact:   "/releases/r1",
			wantDir:    "/releases/r1",
			wantLabels: map[string]string{"cutover.task-set": "blue"},
		},
		{
			name:       "docker uses the configured image without a built one",
			service:    config.Service{Runtime: config.RuntimeDocker, Image: "web:1"},
			wantImage:  "web:1",
			wantLabels: map[string]string{"cutover.task-set": "blue"},
		},
		{
			name:      "swarm runs the built image with its placement",
			service:   config.Service{Runtime: config.RuntimeSwarm, Image: "web:1", Placement: []string{"node.labels.zone==eu", "node.role==worker"}},
			artifact:  "registry.local/web:2",
			wantImage: "registry.local/web:2",
			wantLabels: map[string]string{
				"cutover.task-set":     "blue",
				"cutover.runtime":      "swarm",
				"cutover.constraint.0": "node.labels.zone==eu",
				"cutover.constraint.1": "node.role==worker",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &taskSet{
				rev:   store.Revision{ID: "r1", Artifact: tt.artifact},
				cfg:   config.App{Name: "web", Dir: "/apps/web", Service: tt.service},
				color: "blue",
			}
			spec := taskSpec("web-r1-1", s)
			if spec.Image != tt.wantImage || spec.Dir != tt.wantDir {
				t.Errorf("Image %q, Dir %q; want %q, %q", spec.Image, spec.Dir, tt.wantImage, tt.wantDir)
			}
			if !reflect.DeepEqual(spec.Labels, tt.wantLabels) {
				t.Errorf("Labels = %v; want %v", spec.Labels, tt.wantLabels)
			}
		})
	}
}
