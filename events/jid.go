package events

import "strings"

// isNormalBareJID reports whether user is an account JID that jid.Parse
// accepts and returns unchanged, judged by a fast check of a common ASCII
// subset: a localpart of lowercase letters, digits and ".", "_", "-", "+",
// and a domain of lowercase LDH labels that start and end with a letter or
// digit and have no "--" in their third and fourth place. Validate skips
// the PRECIS and IDNA steps of jid.Parse for such JIDs. Any other JID,
// valid or not, returns false and takes the full parse.
func isNormalBareJID(user string) bool {
	at := strings.IndexByte(user, '@')
	if at <= 0 || at > 1023 || at == len(user)-1 || len(user)-at-1 > 253 {
		return false
	}
	for i := range at {
		c := user[i]
		if !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' && c != '+' {
			return false
		}
	}
	domain := user[at+1:]
	for domain != "" {
		label := domain
		if dot := strings.IndexByte(domain, '.'); dot >= 0 {
			label, domain = domain[:dot], domain[dot+1:]
			if domain == "" {
				return false
			}
		} else {
			domain = ""
		}
		if !isLDHLabel(label) {
			return false
		}
	}
	return true
}

// isLDHLabel reports whether label is a lowercase letter-digit-hyphen DNS
// label that the IDNA hyphen checks accept.
func isLDHLabel(label string) bool {
	n := len(label)
	if n == 0 || n > 63 || !isLowerAlnum(label[0]) || !isLowerAlnum(label[n-1]) {
		return false
	}
	if n >= 4 && label[2] == '-' && label[3] == '-' {
		return false
	}
	for i := 1; i < n-1; i++ {
		if c := label[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}
