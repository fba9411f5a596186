package postgres

// ListenChannel returns the channel the store listens on, for tests that
// break its connection.
func (s *Store) ListenChannel() string { return s.notify.channel }
