package secretscan

import (
	"fmt"
	"time"
)

// Budget bounds what one scan may cost. A scan that would go over it stops and says
// so in its Result: it never passes silently.
type Budget struct {
	// MaxBytes bounds the bytes handed to the rules: every value, and the part of it
	// scanned with its name in front, chunk overlaps included. 0 means no bound.
	MaxBytes int
	// MaxValues bounds the number of values scanned. 0 means no bound.
	MaxValues int
	// MaxDuration bounds the scan's wall time, on top of the context's own deadline.
	// 0 means no bound beyond the context's.
	MaxDuration time.Duration
}

// DefaultBudget is what the admission webhook and the reconciler give one object.
//
// Bytes and values: every legal object fits (a ConfigMap holds at most 1 MiB of data
// and binaryData together, about 2.5 MiB once names and chunk overlaps are counted;
// a pod template's annotations at most 256 KiB), so for them the budget is time
// alone. Time: 2 s, well below the webhooks' 5 s timeoutSeconds, leaving the rest of
// the request its share. Ordinary objects scan in well under a millisecond; what
// takes seconds is text made to trip gitleaks' slowest rules, each up to about 10 µs
// per byte (docs/benchmarks.md, "Secret scanning of large objects").
var DefaultBudget = Budget{MaxBytes: 4 << 20, MaxValues: 100_000, MaxDuration: 2 * time.Second}

// ReconcileBudget is the reconciler's: the same bounds with more time, since no
// client waits for it; it scans an object again only when its content changed.
var ReconcileBudget = Budget{MaxBytes: DefaultBudget.MaxBytes, MaxValues: DefaultBudget.MaxValues, MaxDuration: 10 * time.Second}

// Unlimited scans everything, however long it takes: for tests and offline tools,
// never for a request path.
var Unlimited = Budget{}

// Limit says which bound stopped a scan.
type Limit string

const (
	LimitBytes    Limit = "bytes"
	LimitValues   Limit = "values"
	LimitDeadline Limit = "deadline"
	LimitCanceled Limit = "canceled"
	// LimitRules means gitleaks' rules did not load: nothing could be scanned.
	LimitRules Limit = "rules"
)

// Incomplete describes a scan that stopped before every value was scanned.
type Incomplete struct {
	// Limit is the bound that stopped it.
	Limit Limit
	// Location is the first value not (fully) scanned, e.g. data[big.json].
	Location string
	// ScannedBytes of TotalBytes were scanned; ScannedValues of TotalValues.
	ScannedBytes, TotalBytes   int
	ScannedValues, TotalValues int
	// Budget is the budget the scan had.
	Budget Budget
}

// Reason is a sentence on what stopped the scan, for messages.
func (i *Incomplete) Reason() string {
	switch i.Limit {
	case LimitBytes:
		return fmt.Sprintf("its values come to %d bytes to scan, over the budget of %d", i.TotalBytes, i.Budget.MaxBytes)
	case LimitValues:
		return fmt.Sprintf("it has %d values, over the budget of %d", i.TotalValues, i.Budget.MaxValues)
	case LimitDeadline:
		return fmt.Sprintf("scanning it took longer than its time budget (%s); %d of %d bytes were scanned", i.Budget.MaxDuration, i.ScannedBytes, i.TotalBytes)
	case LimitCanceled:
		return fmt.Sprintf("the request was canceled after %d of %d bytes were scanned", i.ScannedBytes, i.TotalBytes)
	case LimitRules:
		return "gitleaks' rules did not load"
	}
	return string(i.Limit)
}

// Result is what a scan found, and whether it saw everything.
type Result struct {
	// Findings are sorted by Location, then RuleID. When Incomplete is set they are
	// what the scanned part holds.
	Findings []Finding
	// Incomplete is nil when every value was scanned.
	Incomplete *Incomplete
	// ScannedValues and ScannedBytes say how much was scanned.
	ScannedValues, ScannedBytes int
}
