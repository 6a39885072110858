// Package projector folds events into per-user client views. State.Apply is
// the pure fold; Runner consumes the event stream with an ordered consumer,
// writes and restores snapshots, and reports which stream sequence it has
// applied.
package projector
