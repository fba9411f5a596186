package web

import (
	"testing"
	"time"
)

func TestHub(t *testing.T) {
	t.Run("SlowSubscriberDropsItsOwnOnly", func(t *testing.T) {
		h := NewHub(10)
		slow, fast := h.Subscribe(), h.Subscribe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 100 {
				h.Publish(Update{Version: uint64(i)})
				if u := <-fast.C; u.Version != uint64(i) {
					t.Errorf("fast got %d, want %d", u.Version, i)
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Publish blocked on a subscriber that does not read")
		}
		if slow.Dropped() != 100-StreamBuffer || fast.Dropped() != 0 || h.Dropped() != 100-StreamBuffer {
			t.Fatalf("dropped: slow %d, fast %d, hub %d", slow.Dropped(), fast.Dropped(), h.Dropped())
		}
		for want := uint64(100 - StreamBuffer); want < 100; want++ {
			if u := <-slow.C; u.Version != want {
				t.Fatalf("slow got %d, want %d: the newest updates are kept", u.Version, want)
			}
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		h := NewHub(2)
		a, b := h.Subscribe(), h.Subscribe()
		if a == nil || b == nil || h.Subscribe() != nil {
			t.Fatal("want 2 subscribers and no third")
		}
		h.Unsubscribe(a)
		if h.Subscribe() == nil || h.Len() != 2 {
			t.Fatal("a slot freed by Unsubscribe is not reused")
		}
	})
	t.Run("CloseEndsStreams", func(t *testing.T) {
		h := NewHub(2)
		s := h.Subscribe()
		h.Close()
		if _, ok := <-s.C; ok {
			t.Fatal("channel open after Close")
		}
		if h.Subscribe() != nil {
			t.Fatal("Subscribe after Close")
		}
		h.Unsubscribe(s)
		h.Publish(Update{})
	})
}

func TestToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	tok := signToken(secret, "acme", now.Add(time.Hour))
	tenant, exp, err := verifyToken(secret, tok, now)
	if err != nil || tenant != "acme" || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("verify: %q %v %v", tenant, exp, err)
	}
	if _, _, err := verifyToken(secret, tok, now.Add(time.Hour)); err != errTokenExpired {
		t.Fatalf("at expiry: %v, want expired", err)
	}
	other := signToken([]byte("another secret of thirty-two bytes!"), "acme", now.Add(time.Hour))
	payload, sig, _ := cutToken(tok)
	forged := signToken(secret, "globex", now.Add(time.Hour))
	fPayload, _, _ := cutToken(forged)
	for name, bad := range map[string]string{
		"other secret":    other,
		"swapped payload": fPayload + "." + sig,
		"no signature":    payload,
		"empty":           "",
		"garbage":         "!!!.???",
		"truncated":       tok[:len(tok)-3],
		"too long":        tok + string(make([]byte, maxToken)),
	} {
		if _, _, err := verifyToken(secret, bad, now); err != errTokenInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

func cutToken(tok string) (string, string, bool) {
	for i := range tok {
		if tok[i] == '.' {
			return tok[:i], tok[i+1:], true
		}
	}
	return tok, "", false
}

func FuzzVerifyToken(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.Add(signToken(secret, "acme", time.Unix(2_000_000_000, 0)))
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		tenant, _, err := verifyToken(secret, tok, time.Unix(1_700_000_000, 0))
		if err == nil && tenant == "" {
			t.Fatal("a valid token without a tenant")
		}
	})
}
