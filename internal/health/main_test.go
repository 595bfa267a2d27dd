package health

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind, such as a
// target's check loop that Close or Remove did not stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
