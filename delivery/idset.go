package delivery

import "sync/atomic"

// idSet is a set of endpoint IDs that the scheduler changes under its lock
// and ingest reads as a snapshot that is never modified, copied again only
// after a change.
type idSet struct {
	m     map[string]struct{}
	snap  atomic.Pointer[map[string]struct{}]
	dirty bool
}

// put adds id to the set or, with in false, takes it out. The caller holds
// the scheduler's lock.
func (s *idSet) put(id string, in bool) {
	if in {
		if s.m == nil {
			s.m = make(map[string]struct{})
		}
		s.m[id] = struct{}{}
	} else {
		delete(s.m, id)
	}
	s.dirty = true
}

// snapshot returns the set as it is; nil when it is empty. The caller holds
// the scheduler's lock.
func (s *idSet) snapshot() map[string]struct{} {
	if s.dirty {
		s.dirty = false
		if len(s.m) == 0 {
			s.snap.Store(nil)
		} else {
			m := make(map[string]struct{}, len(s.m))
			for id := range s.m {
				m[id] = struct{}{}
			}
			s.snap.Store(&m)
		}
	}
	if p := s.snap.Load(); p != nil {
		return *p
	}
	return nil
}
