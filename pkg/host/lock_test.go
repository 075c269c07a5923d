package host

import (
	"errors"
	"testing"
)

func TestLockRefusesSecondHolder(t *testing.T) {
	f := NewFS(t.TempDir())
	release, err := f.Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts just as another process would.
	if _, err := f.Lock("/run/eksd-kata.lock"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	release()
	release2, err := f.Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()
}
