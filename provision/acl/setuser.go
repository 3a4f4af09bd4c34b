package acl

// SetUserArgs are the arguments of ACL SETUSER (after the user name) that
// make a running server's user u: "reset" first, so nothing of what the
// user had stays, then what u's line in an ACL file says. With
// keepPasswords the passwords are left as they are (no reset, no hashes):
// the rights are replaced one by one instead, for a user whose passwords a
// rotation handles. The hashes are secrets to anyone who reads the result.
func (u User) SetUserArgs(keepPasswords bool) []any {
	var w []any
	if keepPasswords {
		w = append(w, "resetkeys", "resetchannels", "-@all", "clearselectors")
	} else {
		w = append(w, "reset")
	}
	if u.Enabled {
		w = append(w, "on")
	} else {
		w = append(w, "off")
	}
	if !keepPasswords {
		if u.NoPass {
			w = append(w, "nopass")
		}
		for _, h := range u.Passwords {
			w = append(w, "#"+h)
		}
	}
	if u.SkipSanitizePayload {
		w = append(w, "skip-sanitize-payload")
	} else {
		w = append(w, "sanitize-payload")
	}
	for _, s := range u.Rules.words() {
		w = append(w, s)
	}
	for _, s := range u.Selectors {
		w = append(w, s)
	}
	return w
}
