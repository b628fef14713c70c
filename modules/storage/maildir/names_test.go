package maildir

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, base, fields, info string
	}{
		{"1700000000.V801I2M3.host", "1700000000.V801I2M3.host", "", ""},
		{"1700000000.M1P2.host,S=1234,W=1260:2,S", "1700000000.M1P2.host", ",S=1234,W=1260", ":2,S"},
		{"1700000000.M1P2.host:2,", "1700000000.M1P2.host", "", ":2,"},
		{"1700000000.M1P2.host,S=12", "1700000000.M1P2.host", ",S=12", ""},
		{"base:2,S,odd", "base", "", ":2,S,odd"},
		{",W=5:2,", "", ",W=5", ":2,"},
	}
	for _, tt := range tests {
		base, fields, info := splitName(tt.name)
		if base != tt.base || fields != tt.fields || info != tt.info {
			t.Errorf("splitName(%q) = %q, %q, %q; want %q, %q, %q", tt.name, base, fields, info, tt.base, tt.fields, tt.info)
		}
		if got := base + fields + info; got != tt.name {
			t.Errorf("parts of %q join to %q", tt.name, got)
		}
	}
}

func TestWireSizeField(t *testing.T) {
	tests := []struct {
		fields string
		want   int64
		ok     bool
	}{
		{"", 0, false},
		{",S=1234", 0, false},
		{",S=1234,W=1260", 1260, true},
		{",W=0", 0, true},
		{",W=", 0, false},
		{",W=-3", 0, false},
		{",W=12x", 0, false},
		{",w=12", 0, false},
		{",W=99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := wireSizeField(tt.fields)
		if got != tt.want || ok != tt.ok {
			t.Errorf("wireSizeField(%q) = %d, %v; want %d, %v", tt.fields, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUIDFor(t *testing.T) {
	long := "1700000000.M123456P12345Q1." + strings.Repeat("very-long-host-name.", 3) + "example.com"
	tests := []struct {
		name   string
		base   string
		asIs   bool
		hashed bool
	}{
		{"postfix", "1700000000.V801I2M3.host", true, false},
		{"seventy", strings.Repeat("a", 70), true, false},
		{"seventy-one", strings.Repeat("a", 71), false, true},
		{"long host", long, false, true},
		{"space", "1700000000.M1.my host", false, true},
		{"8-bit", "1700000000.M1.h\xc3\xb4te", false, true},
		{"empty", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := uidFor(tt.base)
			if !validUID(uid) {
				t.Fatalf("uidFor(%q) = %q, not a valid UIDL", tt.base, uid)
			}
			if (uid == tt.base) != tt.asIs {
				t.Errorf("uidFor(%q) = %q, want as is: %v", tt.base, uid, tt.asIs)
			}
			if tt.hashed && uid != hashUID(tt.base) {
				t.Errorf("uidFor(%q) = %q, want the hash %q", tt.base, uid, hashUID(tt.base))
			}
			if again := uidFor(tt.base); again != uid {
				t.Errorf("uidFor is not stable: %q then %q", uid, again)
			}
		})
	}
}

func TestUniqueUID(t *testing.T) {
	used := make(map[string]bool)
	var got []string
	for _, base := range []string{"a", "a", "b", "a", hashUID("c"), "c"} {
		got = append(got, uniqueUID(base, used))
	}
	for i, uid := range got {
		if !validUID(uid) {
			t.Errorf("UIDL %q is not valid", uid)
		}
		if slices.Index(got, uid) != i {
			t.Errorf("UIDL %q given twice: %q", uid, got)
		}
	}
	if got[0] != "a" || got[2] != "b" {
		t.Errorf("first of a base should keep it: %q", got)
	}
}

func TestCompareNames(t *testing.T) {
	ordered := []string{
		"999999999.M1P1.h",
		"1700000000.M5P1Q9.h",
		"1700000000.M12P1Q10.h",
		"1700000000.M12P1Q11.h",
		"1700000000.M012P1Q11.h",
		"1700000000.V801I2M3.h",
		"1700000001.M0P1.h",
		"1700000001.M0P1.h2",
		"17000000010.M0P1.h",
	}
	for i := range ordered {
		for j := range ordered {
			c := compareNames(ordered[i], ordered[j])
			if (i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0) {
				t.Errorf("compareNames(%q, %q) = %d", ordered[i], ordered[j], c)
			}
		}
	}
}

func TestSanitizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mail.example.com", "mail.example.com"},
		{"a/b:c,d", `a\057b\072c\054d`},
		{"back\\slash", `back\134slash`},
		{"sp ace", `sp\040ace`},
		{"h\xc3\xb4te", `h\303\264te`},
	}
	for _, tt := range tests {
		got := sanitizeHost(tt.in)
		if got != tt.want {
			t.Errorf("sanitizeHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.ContainsAny(got, "/:,") {
			t.Errorf("sanitizeHost(%q) = %q still has a separator", tt.in, got)
		}
	}
}
