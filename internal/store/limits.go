package store

// Names of the limits, as used in LimitError.Limit and in policies.
const (
	LimitMaxValueBytes   = "maxValueBytes"
	LimitMaxContextBytes = "maxContextBytes"
	LimitMaxMessages     = "maxMessages"
)

// Limits are the per-session quotas a write is checked against. They come
// from the effective policy at the time of the write rather than being stored
// with the session, so tightening a policy applies to the next write without
// rewriting anything. Zero means unlimited.
type Limits struct {
	// MaxValueBytes bounds one context value (compact JSON bytes) and the
	// content of one message.
	MaxValueBytes int64
	// MaxContextBytes bounds the sum over all context entries of
	// len(key) + len(compact JSON value).
	MaxContextBytes int64
	// MaxMessages bounds the number of messages in the conversation history.
	MaxMessages int64
}

// checkValue refuses a single context value larger than MaxValueBytes.
func (l Limits) checkValue(size int64) error {
	return over(LimitMaxValueBytes, l.MaxValueBytes, size)
}

// checkContext refuses a context total larger than MaxContextBytes. It takes
// the total the write would produce, so replacing a value with a smaller one
// is always allowed even when the session is already over a lowered limit.
func (l Limits) checkContext(current, next int64) error {
	if next <= current {
		return nil
	}
	return over(LimitMaxContextBytes, l.MaxContextBytes, next)
}

// checkMessages refuses a history longer than MaxMessages.
func (l Limits) checkMessages(next int64) error {
	return over(LimitMaxMessages, l.MaxMessages, next)
}

func over(name string, max, actual int64) error {
	if max <= 0 || actual <= max {
		return nil
	}
	return &LimitError{Limit: name, Max: max, Actual: actual, Over: actual - max}
}
