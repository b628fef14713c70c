package dovecotuidl

import "testing"

func TestFormat(t *testing.T) {
	v := Vars{UID: 25021, Validity: 1275759792, FileName: "1700000001.M2P1.host,S=120", GUID: "0123abcd"}
	cases := []struct{ format, want string }{
		{Default, "000061bd4c0a8cb0"}, // lower-case hex, as the real Dovecot shows it (e2e)
		{"%u", "25021"},
		{"%v.%u", "1275759792.25021"},
		{"%f", "1700000001.M2P1.host,S=120"},
		{"%g", "0123abcd"},
		{"%{uid}-%{uidvalidity}-%{filename}-%{guid}", "25021-1275759792-1700000001.M2P1.host,S=120-0123abcd"},
		{"x%%%4u", "x%25021"},
		{"%10u", "0000025021"},
		{"%Xu", "61bd"},
	}
	for _, tc := range cases {
		f, err := Parse(tc.format, "uvfg")
		if err != nil {
			t.Errorf("%s: %v", tc.format, err)
			continue
		}
		if got := f.Expand(v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.format, got, tc.want)
		}
		if f.String() != tc.format {
			t.Errorf("String() = %q, want %q", f.String(), tc.format)
		}
	}
	bad := []struct{ format, allowed string }{
		{"", "uvfg"}, {"%m", "uvfg"}, {"%{md5}", "uvfg"}, {"%x", "uvfg"}, {"%Xf", "uvfg"},
		{"%08X", "uvfg"}, {"%{uid", "uvfg"}, {"a b", "uvfg"}, {"%999u", "uvfg"}, {"%", "uvfg"},
		{"%f", "uv"}, {"%{guid}", "uv"},
	}
	for _, tc := range bad {
		if _, err := Parse(tc.format, tc.allowed); err == nil {
			t.Errorf("%q (allowed %s) accepted, want an error", tc.format, tc.allowed)
		}
	}
}
