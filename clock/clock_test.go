package clock

import (
	"context"
	"testing"
	"time"
)

func TestRealSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Real.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Real.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
}

func TestRealTimerResets(t *testing.T) {
	tm := Real.NewTimer(time.Hour)
	tm.Reset(time.Millisecond)
	<-tm.C()
	tm.Stop()
	<-Real.After(time.Millisecond)
}
