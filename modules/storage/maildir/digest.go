package maildir

import "hash/maphash"

// A listing made from this session's own changes (messages moved from
// new/ into cur/, deletions at Commit) is cached with the stamps the
// directories had after those changes. Another program could have
// changed a directory at the same moment, within the same tick of the
// directory's clock, so those stamps alone do not prove that the listing
// is what the directory holds. Before such a listing is trusted, a login
// reads the names in cur/ and new/ (no stat, no parsing, no sorting) and
// compares their digest with the listing's: equal, the listing is the
// directory's content, as if just listed.

// digestSeed keys the name digests of this process; an outsider who does
// not know it cannot make two different sets of names collide.
var digestSeed = maphash.MakeSeed()

// nameDigest is an order-independent digest of a set of file names: how
// many, and the sum of their keyed hashes.
type nameDigest struct {
	count int
	sum   uint64
}

// add adds name to the digest.
func (g *nameDigest) add(name string) {
	g.count++
	g.sum += maphash.String(digestSeed, name)
}

// digestNames returns the digest of the message files of d (the names
// that dir.names returns).
func (d *dir) digestNames() (nameDigest, error) {
	var g nameDigest
	err := d.eachName(g.add)
	return g, err
}
