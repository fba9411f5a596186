package delivery

import (
	"fmt"
	"testing"

	"github.com/hookline/hookline"
)

func tasksFor(ep *hookline.Endpoint, n int) []*hookline.Task {
	out := make([]*hookline.Task, n)
	for i := range out {
		out[i] = &hookline.Task{DeliveryID: fmt.Sprintf("%s-%d", ep.ID, i), Endpoint: ep, Partition: i % 2}
	}
	return out
}

func TestDispatcherServesEndpointsInTurn(t *testing.T) {
	d := newDispatcher(100, 1, nil)
	a, b, c := &hookline.Endpoint{ID: "a"}, &hookline.Endpoint{ID: "b"}, &hookline.Endpoint{ID: "c"}
	d.admit(tasksFor(a, 10)) // a busy endpoint queued first
	d.admit(tasksFor(b, 2))
	d.admit(tasksFor(c, 2))
	var order string
	for range 6 {
		task, q := d.next()
		order += task.Endpoint.ID
		d.done(task, q)
	}
	if order != "abcabc" {
		t.Fatalf("served %q, want round robin abcabc", order)
	}
}

func TestDispatcherCapsInFlightPerEndpoint(t *testing.T) {
	d := newDispatcher(100, 2, nil)
	a, b := &hookline.Endpoint{ID: "a"}, &hookline.Endpoint{ID: "b"}
	d.admit(tasksFor(a, 5))
	d.admit(tasksFor(b, 1))
	var got []string
	for range 3 { // a, b, a: the third a is held back by the cap
		task, _ := d.next()
		got = append(got, task.Endpoint.ID)
	}
	if fmt.Sprint(got) != "[a b a]" {
		t.Fatalf("got %v", got)
	}
	if d.ready.len() != 0 {
		t.Fatalf("endpoint a at its cap is still ready")
	}
}

func TestDispatcherCapacityAndDuplicates(t *testing.T) {
	d := newDispatcher(3, 10, nil)
	a := &hookline.Endpoint{ID: "a"}
	ts := tasksFor(a, 5)
	if rej := d.admit(ts); len(rej) != 2 || rej[0] != ts[3] {
		t.Fatalf("rejected %d, want the last 2", len(rej))
	}
	if rej := d.admit(ts[:3]); len(rej) != 0 {
		t.Fatalf("held tasks admitted twice or rejected")
	}
	if held, _ := d.counts(); held != 3 {
		t.Fatalf("held %d, want 3", held)
	}
}

func TestDispatcherDropAndLowWater(t *testing.T) {
	woken := 0
	d := newDispatcher(4, 10, func() { woken++ })
	a := &hookline.Endpoint{ID: "a"}
	d.admit(tasksFor(a, 4))
	dropped := d.drop(func(t *hookline.Task) bool { return t.Partition == 0 })
	if len(dropped) != 2 {
		t.Fatalf("dropped %d, want the 2 of partition 1", len(dropped))
	}
	d.admit(tasksFor(&hookline.Endpoint{ID: "b"}, 2))
	if !d.waitForRoom() {
		t.Fatal("full dispatcher says it has room")
	}
	task, q := d.next()
	d.done(task, q)
	if woken != 0 {
		t.Fatal("woken before half the capacity is free")
	}
	task, q = d.next()
	d.done(task, q)
	if woken != 1 {
		t.Fatalf("woken %d times at half capacity, want 1", woken)
	}
	d.close()
	if task, _ := d.next(); task != nil {
		t.Fatal("next after close returned a task")
	}
}
