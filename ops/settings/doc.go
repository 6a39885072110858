// Package settings holds the cluster-wide settings of clientele, such as
// enforce_client_ids, in the JetStream key-value bucket clientele-settings.
// The CLI changes them with Store.Set, and serve keeps a Cache that follows
// the bucket and serves the current values to XMPP nodes.
package settings
