package server

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/notify"
)

// The notifier (package notify) follows the store's event log and calls
// the apps' webhooks. It runs with the controller and the pipeline, and
// stops with them.

// newNotifier makes the notifier and fixes its place in the event log,
// before the API can start a deployment: on the first start, a deployment
// the API starts at once is news, however late the notifier runs.
func (s *Server) newNotifier(ctx context.Context, tcp api.TCPOptions) (*notify.Notifier, error) {
	n := notify.New(notify.Options{Store: s.store, Logger: s.log, Link: s.dashboardLink(tcp)})
	if _, err := n.Begin(ctx); err != nil {
		return nil, fmt.Errorf("starting notifications: %w", err)
	}
	return n, nil
}

// startNotifier runs n until ctx ends; notifyDone is closed when it has
// stopped.
func (s *Server) startNotifier(ctx context.Context, n *notify.Notifier) {
	s.notifyDone = make(chan struct{})
	go func() {
		defer close(s.notifyDone)
		if err := n.Run(ctx); err != nil {
			s.log.Error("notifications stopped", "err", err)
		}
	}()
}

// dashboardLink returns the dashboard's URL of a path, on the API's TCP
// address as the push URLs name it; "" when the API has no TCP listener.
func (s *Server) dashboardLink(tcp api.TCPOptions) func(path string) string {
	return func(path string) string {
		if _, ok := s.apiAddr.(*net.TCPAddr); !ok {
			return ""
		}
		// pushURLs knows the host name to give; its URL is
		// <scheme>://<host>/git/<app>.git.
		push := s.pushURLs(tcp)("x")
		base, _, ok := strings.Cut(push, "/git/")
		if !ok {
			return ""
		}
		return base + path
	}
}
