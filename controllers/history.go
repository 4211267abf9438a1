package controllers

import (
	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// DefaultHistoryLimit is the number of revisions a record keeps when Options do not say.
const DefaultHistoryLimit = 20

// sameRevision reports whether a and b record the same revision. A traced revision is
// identified by its admission (digest and admission time: the webhook stamps a fresh
// time on every admitted change); an untraced one by the digest of the live content
// observed.
func sameRevision(a, b v1alpha1.Revision) bool {
	if a.Traced != b.Traced || a.Admission.Digest != b.Admission.Digest {
		return false
	}
	if !a.Traced {
		return true
	}
	at, bt := a.Admission.AdmittedAt, b.Admission.AdmittedAt
	if at == nil || bt == nil {
		return at == nil && bt == nil
	}
	return at.Time.Unix() == bt.Time.Unix()
}

// newestTraced returns the index of the newest traced revision in history, or -1.
func newestTraced(history []v1alpha1.Revision) int {
	for i := range history {
		if history[i].Traced {
			return i
		}
	}
	return -1
}

// recorded reports whether rev is already in history. A traced revision is recorded
// when any entry is the same revision. An untraced one is recorded when it was seen
// since the newest traced revision: the same live content reached again after a new
// traced revision is a new untraced change.
func recorded(history []v1alpha1.Revision, rev v1alpha1.Revision) bool {
	if rev.Traced {
		for i := range history {
			if sameRevision(history[i], rev) {
				return true
			}
		}
		return false
	}
	end := newestTraced(history)
	if end < 0 {
		end = len(history)
	}
	for i := 0; i < end; i++ {
		if sameRevision(history[i], rev) {
			return true
		}
	}
	return false
}

// pushRevision records rev at the head of status.history (newest first) unless it is
// already recorded, and reports whether it did. The history is then bounded to limit
// entries by dropping the oldest, counting each in status.historyDropped, except the
// newest traced revision: it stays so that the reconciler always knows the current
// traced revision is recorded, however many untraced changes followed it (limit < 1 is
// taken as 1).
func pushRevision(st *v1alpha1.TraceRecordStatus, rev v1alpha1.Revision, limit int) bool {
	if recorded(st.History, rev) {
		return false
	}
	if limit < 1 {
		limit = 1
	}
	h := make([]v1alpha1.Revision, 0, len(st.History)+1)
	h = append(h, rev)
	h = append(h, st.History...)
	pinned := newestTraced(h)
	for len(h) > limit {
		i := len(h) - 1
		if i == pinned {
			i--
		}
		if i < 0 {
			break
		}
		h = append(h[:i], h[i+1:]...)
		st.HistoryDropped++
	}
	st.History = h
	return true
}
