package delivery

// IngestQueued returns how many ingest requests wait in the committer's
// channel, for tests.
func (e *Engine) IngestQueued() int { return len(e.committer.jobs) }
