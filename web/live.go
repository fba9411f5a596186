package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// StreamInterval is the least time between two updates of one stream: at
// most 2 a second, whatever the sampler or the engine do. Updates that come
// sooner are coalesced: only the latest is sent.
const StreamInterval = 500 * time.Millisecond

// keepAlive is how often an idle stream sends a comment, so proxies keep it
// open.
const keepAlive = 20 * time.Second

// handleLive is GET /live (and /portal/live): a Server-Sent Events stream.
// An operator's stream starts with "snapshot" (the whole 15-minute series)
// and then sends "sample" updates; a portal stream sends "changed" when the
// tenant's endpoints or deliveries changed, and nothing about other tenants.
func (h *Handler) handleLive(w http.ResponseWriter, r *http.Request, p *page) {
	sub := h.hub.Subscribe()
	if sub == nil {
		http.Error(w, "too many live streams", http.StatusServiceUnavailable)
		return
	}
	defer h.hub.Unsubscribe(sub)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data []byte) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil {
		return
	}
	if !p.portal {
		b, _ := json.Marshal(map[string]any{"series": columns(h.series.Samples())}) // plain data
		if !send("snapshot", b) {
			return
		}
	} else if rc.Flush() != nil {
		return
	}

	var fingerprint [sha256.Size]byte
	if p.portal {
		fingerprint = h.tenantFingerprint(r.Context(), p)
	}
	deliver := func(u Update) bool {
		if !p.portal {
			return send("sample", u.Data)
		}
		f := h.tenantFingerprint(r.Context(), p)
		if f == fingerprint {
			return true
		}
		fingerprint = f
		return send("changed", []byte(`{}`))
	}

	var pending *Update
	var lastSent, lastVersion uint64
	var lastWrite time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ka := time.NewTicker(keepAlive)
	defer ka.Stop()
	for {
		var due <-chan time.Time
		if pending != nil {
			wait := StreamInterval - time.Since(lastWrite)
			if wait <= 0 {
				u := *pending
				pending = nil
				if p.portal && u.Version == lastSent {
					continue // the counts did not move: nothing of the tenant's can have
				}
				if !deliver(u) {
					return
				}
				lastSent, lastWrite = u.Version, time.Now()
				continue
			}
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case u, ok := <-sub.C:
			if !ok {
				return // the dashboard is closing
			}
			if p.portal && pending == nil && u.Version == lastVersion {
				continue
			}
			lastVersion = u.Version
			pending = &u
		case <-due:
		case <-ka.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// tenantFingerprint sums what a portal page shows of its tenant: the newest
// deliveries and the endpoints. It is read only when the store's counts
// moved, at most twice a second per stream.
func (h *Handler) tenantFingerprint(ctx context.Context, p *page) [sha256.Size]byte {
	var ds list[delivery]
	var eps list[endpoint]
	errD := p.api.do(ctx, p.cred, http.MethodGet, "/v1/deliveries?limit=50", nil, &ds)
	errE := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints?limit=100", nil, &eps)
	b, _ := json.Marshal([]any{ds, eps, errD == nil, errE == nil}) // plain data
	return sha256.Sum256(b)
}
