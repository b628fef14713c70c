package maildir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// A journal record is a change of a listing appended to the index file:
//
//	delta <n>
//	<n bytes: the stamps before (3 lines), the stamps after (3 lines),
//	 "<removed> <added>", the removed files ("<c|n> <name>"), the added
//	 messages (index entry lines)>
//	sha256 <hex of those n bytes>
//
// It is written with one write(2) to the end of the file, so a crash
// leaves at most one torn record at the end, which its length and
// checksum reveal. A record applies only to the state whose stamps it
// names as before, so a record appended to another state than the one
// it was made from is never applied. The journal is folded into a full
// rewrite once it is larger than maxJournal or a quarter of the file.
const maxJournal = 64 << 10

// journalRecord is one change of a listing: files removed (by directory
// and name), messages added, and the stamps before and after.
type journalRecord struct {
	from, to   stamps
	removed    []file
	addedFiles []file
	addedMsgs  []storage.Message
}

// encode returns the record as appended to the index, or nil when a name
// cannot be written.
func (j *journalRecord) encode() []byte {
	var p bytes.Buffer
	writeStamps(&p, j.from)
	writeStamps(&p, j.to)
	fmt.Fprintf(&p, "%d %d\n", len(j.removed), len(j.addedFiles))
	for _, f := range j.removed {
		if strings.ContainsAny(f.name, "\n\r") {
			return nil
		}
		d := "c "
		if f.dir == dirNew {
			d = "n "
		}
		p.WriteString(d)
		p.WriteString(f.name)
		p.WriteByte('\n')
	}
	for i, f := range j.addedFiles {
		if !writeIndexEntry(&p, f, j.addedMsgs[i]) {
			return nil
		}
	}
	sum := sha256.Sum256(p.Bytes())
	var b bytes.Buffer
	fmt.Fprintf(&b, "delta %d\n", p.Len())
	b.Write(p.Bytes())
	fmt.Fprintf(&b, "sha256 %s\n", hex.EncodeToString(sum[:]))
	return b.Bytes()
}

// nextJournalRecord returns the payload of the record at off in data and
// where the next one starts, or false when there is no whole, intact
// record there.
func nextJournalRecord(data []byte, off int) ([]byte, int, bool) {
	lines := lineReader{data: data, off: off}
	s, ok := lines.next()
	if !ok {
		return nil, 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "delta "))
	if !strings.HasPrefix(s, "delta ") || err != nil || n < 0 || n > len(data)-lines.off {
		return nil, 0, false
	}
	payload := data[lines.off : lines.off+n]
	lines.off += n
	sum := sha256.Sum256(payload)
	if s, ok := lines.next(); !ok || s != "sha256 "+hex.EncodeToString(sum[:]) {
		return nil, 0, false
	}
	return payload, lines.off, true
}

// decodeJournalRecord parses the payload of a record.
func decodeJournalRecord(payload []byte) (*journalRecord, bool) {
	lines := lineReader{data: payload}
	j := new(journalRecord)
	var ok bool
	if j.from, ok = readStamps(&lines); !ok {
		return nil, false
	}
	if j.to, ok = readStamps(&lines); !ok {
		return nil, false
	}
	s, _ := lines.next()
	var nr, na int
	if n, err := fmt.Sscanf(s, "%d %d", &nr, &na); n != 2 || err != nil || nr < 0 || na < 0 || nr+na > len(payload) {
		return nil, false
	}
	for range nr {
		s, ok := lines.next()
		d, name, _ := strings.Cut(s, " ")
		if !ok || (d != "c" && d != "n") || !indexableName(name) {
			return nil, false
		}
		f := file{dir: dirCur, name: name, base: baseOf(name)}
		if d == "n" {
			f.dir = dirNew
		}
		j.removed = append(j.removed, f)
	}
	for range na {
		s, ok := lines.next()
		if !ok {
			return nil, false
		}
		f, m, ok := parseIndexLine(s)
		if !ok {
			return nil, false
		}
		j.addedFiles = append(j.addedFiles, f)
		j.addedMsgs = append(j.addedMsgs, m)
	}
	if lines.off != len(payload) {
		return nil, false
	}
	return j, true
}

// journalReplay applies journal records to a listing: removals are
// marked and additions collected, and the listing is rebuilt once at the
// end, so that replaying many records costs about one pass.
type journalReplay struct {
	files   []file
	msgs    []storage.Message
	used    map[string]bool // the UIDLs listed so far
	at      map[file]int    // index in files, made at the first removal
	gone    []bool          // of files
	addF    []file
	addM    []storage.Message
	added   map[file]int // index in addF
	addGone []bool
}

func newJournalReplay(files []file, msgs []storage.Message, used map[string]bool) *journalReplay {
	return &journalReplay{files: files, msgs: msgs, used: used, added: map[file]int{}}
}

// apply applies one record. It reports false when a removed file is not
// listed or an added UIDL is taken.
func (r *journalReplay) apply(j *journalRecord) bool {
	for _, f := range j.removed {
		if i, ok := r.added[f]; ok {
			delete(r.added, f)
			r.addGone[i] = true
			delete(r.used, r.addM[i].UID)
			continue
		}
		if r.at == nil {
			r.at = make(map[file]int, len(r.files))
			for i, f := range r.files {
				r.at[f] = i
			}
			r.gone = make([]bool, len(r.files))
		}
		i, ok := r.at[f]
		if !ok {
			return false
		}
		delete(r.at, f)
		r.gone[i] = true
		delete(r.used, r.msgs[i].UID)
	}
	for k, f := range j.addedFiles {
		m := j.addedMsgs[k]
		if _, dup := r.added[f]; dup || r.used[m.UID] {
			return false
		}
		if _, dup := r.at[f]; dup && r.at != nil {
			return false
		}
		r.used[m.UID] = true
		r.added[f] = len(r.addF)
		r.addF, r.addM, r.addGone = append(r.addF, f), append(r.addM, m), append(r.addGone, false)
	}
	return true
}

// result returns the listing with every record applied, in order.
func (r *journalReplay) result() ([]file, []storage.Message) {
	files, msgs := r.files, r.msgs
	if r.gone != nil {
		files, msgs = make([]file, 0, len(r.files)), make([]storage.Message, 0, len(r.files))
		for i, f := range r.files {
			if !r.gone[i] {
				files, msgs = append(files, f), append(msgs, r.msgs[i])
			}
		}
	}
	var addF []file
	var addM []storage.Message
	for i, f := range r.addF {
		if !r.addGone[i] {
			addF, addM = append(addF, f), append(addM, r.addM[i])
		}
	}
	return mergeSorted(files, msgs, addF, addM)
}

// compareFiles is the order of a listing: by base, as delivered (see
// compareNames), then by name.
func compareFiles(a, b file) int {
	if c := compareNames(a.base, b.base); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

// mergeSorted returns the files and messages of a listing (in its order)
// with others added, in order; the inputs are not changed.
func mergeSorted(files []file, msgs []storage.Message, addF []file, addM []storage.Message) ([]file, []storage.Message) {
	if len(addF) == 0 {
		return files, msgs
	}
	idx := make([]int, len(addF))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareFiles(addF[a], addF[b]) })
	outF := make([]file, 0, len(files)+len(addF))
	outM := make([]storage.Message, 0, len(files)+len(addF))
	i := 0
	for _, k := range idx {
		// New mail sorts last as a rule: find its place from the end.
		j := len(files)
		for j > i && compareFiles(files[j-1], addF[k]) > 0 {
			j--
		}
		outF, outM = append(outF, files[i:j]...), append(outM, msgs[i:j]...)
		outF, outM = append(outF, addF[k]), append(outM, addM[k])
		i = j
	}
	outF, outM = append(outF, files[i:]...), append(outM, msgs[i:]...)
	return outF, outM
}

// updateIndex records in the index file that the listing prev became
// next through the change j: appended to the journal when the file is
// still the one prev was written as or read from and the journal is
// small, else written whole. It sets next.index.
func (md *maildrop) updateIndex(prev, next *listing, j *journalRecord) {
	if md.readOnly {
		return
	}
	data := j.encode()
	limit := max(int64(maxJournal), prev.index.size/4)
	if data == nil || prev.index.ino == 0 || prev.index.journal+int64(len(data)) > limit {
		md.writeIndex(next)
		return
	}
	st, err := md.dir.appendTo(IndexFileName, prev.index, data)
	if err != nil {
		md.writeIndex(next)
		return
	}
	indexAppends.Add(1)
	next.index = st
}
