package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Session cookies. The operator's is sent to every path; the portal's only
// under /portal, so an operator who opens a portal link keeps their own.
const (
	operatorCookie = "hookline_session"
	portalCookie   = "hookline_portal"
	loginCookie    = "hookline_login" // the CSRF token of the sign-in form
)

// session is a signed-in browser. It lives in memory on this node only: with
// several nodes behind a load balancer, sessions need sticky routing (the
// portal link itself works on any node, since every node checks its
// signature).
type session struct {
	// key is the API key the session signed in with: the operator's, or a
	// tenant's (a portal session then); "" for a portal session opened by a
	// link.
	key string
	// tenant is the tenant of a portal session.
	tenant string
	portal bool
	// csrf is the token every state-changing form must carry.
	csrf    string
	created time.Time
	expires time.Time

	mu    sync.Mutex
	flash string // the one-time message of the next page
}

// sessions is the bounded, expiring, server-side session store. Sessions are
// found by the SHA-256 of their cookie value, so the store holds nothing a
// browser could present.
type sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session
	max int
	now func() time.Time
}

func newSessions(max int, now func() time.Time) *sessions {
	return &sessions{m: make(map[[sha256.Size]byte]*session), max: max, now: now}
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create stores s and returns the cookie value that finds it. When the store
// is full, expired sessions go first, then the oldest.
func (st *sessions) create(s *session) string {
	id := randomToken()
	s.csrf = randomToken()
	s.created = st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.m) >= st.max {
		st.evictLocked()
	}
	st.m[sha256.Sum256([]byte(id))] = s
	return id
}

// evictLocked drops expired sessions, and the oldest one if none was.
func (st *sessions) evictLocked() {
	now := st.now()
	var oldest [sha256.Size]byte
	var oldestAt time.Time
	n := len(st.m)
	for k, s := range st.m {
		if !now.Before(s.expires) {
			delete(st.m, k)
		} else if oldestAt.IsZero() || s.created.Before(oldestAt) {
			oldest, oldestAt = k, s.created
		}
	}
	if len(st.m) == n && !oldestAt.IsZero() {
		delete(st.m, oldest)
	}
}

// get returns the live session of cookie value id, or nil.
func (st *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[k]
	if s != nil && !st.now().Before(s.expires) {
		delete(st.m, k)
		return nil
	}
	return s
}

// remove ends the session of cookie value id.
func (st *sessions) remove(id string) {
	k := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, k)
}

// len returns how many sessions are stored.
func (st *sessions) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}
