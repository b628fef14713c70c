package auth

import (
	"sort"

	"go.uber.org/zap"
)

// maxNamedOutliers bounds the user names a timing warning lists.
const maxNamedOutliers = 20

// TimingOutliers returns, sorted, the users whose hash cost class (the
// scheme and its cost parameters, as the authenticator classes them)
// differs from common, the class an unknown user's password is checked
// against. A failed login for such a user takes a different time than
// one for an unknown user, so the time of a failure tells that they
// exist: no fake hash can match several classes at once.
func TimingOutliers(classes map[string]string, common string) []string {
	var out []string
	for user, class := range classes {
		if class != common {
			out = append(out, user)
		}
	}
	sort.Strings(out)
	return out
}

// WarnTimingOutliers logs outliers (from TimingOutliers) at WARN, naming
// at most 20 of them; it logs nothing when there are none.
func WarnTimingOutliers(logger *zap.Logger, outliers []string, fields ...zap.Field) {
	if len(outliers) == 0 {
		return
	}
	named := outliers[:min(len(outliers), maxNamedOutliers)]
	logger.Warn("some users' password hashes have another scheme or cost than most; "+
		"the time a failed login takes tells that these users exist. Rehash them like the others",
		append(fields, zap.Int("users", len(outliers)), zap.Strings("examples", named))...)
}
