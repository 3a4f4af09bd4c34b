// Package tlsca makes and checks the certificates of a TLS cluster: a
// cluster CA kept on the control machine, one certificate per host signed by
// it, the checks that decide when a host certificate is renewed, and the
// loading of files a user brings instead.
//
// It uses the standard library only and touches nothing remote: the caller
// uploads what it returns. The CA key never leaves the control machine, so
// CA keeps it unexported and nothing here returns it.
//
// Where things are:
//
//   - ca.go: LoadOrCreateCA, the CA's files and the checks on its key file.
//   - issue.go: Issue, one host certificate.
//   - check.go: NeedsRenewal, Expiry and Verify.
//   - userfiles.go: LoadFiles and ExpandHost, for the inventory's ca_file,
//     cert_file and key_file.
package tlsca
