package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// Page sizes of the admin endpoints that walk every account, in accounts.
const (
	DefaultAccountsLimit = 100
	MaxAccountsLimit     = 1000
)

// DefaultAdminActor is the actor recorded on the revokes of a
// RevokeSoftware request that names none.
const DefaultAdminActor = "admin"

// AccountsRequest is a request for the accounts with a client of Software, and of
// Version when set, in JID order after the account After. Limit caps the
// accounts of one reply; 0 means DefaultAccountsLimit.
type AccountsRequest struct {
	Software string `json:"software"`
	Version  string `json:"version,omitempty"`
	After    string `json:"after,omitempty"`
	Limit    int    `json:"limit,omitempty"`
}

// AccountMatch is an account and its listed clients that match a software.
type AccountMatch struct {
	User    string                 `json:"user"`
	Clients []projector.ClientView `json:"clients"`
}

// AccountsReply is one page of the accounts with a software.
type AccountsReply struct {
	Accounts []AccountMatch `json:"accounts"`
	// Next is the After of the request for the next page, and empty when
	// this page is the last.
	Next string `json:"next,omitempty"`
}

// RevokeSoftwareRequest is a request to revoke every client of Software, and of
// Version when set, in every account, page by page in JID order after the
// account After. With DryRun it only reports what it would revoke.
type RevokeSoftwareRequest struct {
	Software string `json:"software"`
	Version  string `json:"version,omitempty"`
	DryRun   bool   `json:"dry_run,omitempty"`
	// Actor is the administrator who asked; empty means DefaultAdminActor.
	Actor string `json:"actor,omitempty"`
	// RequestID makes retries idempotent; use the same one for every page
	// of one operation. Empty means new.
	RequestID string `json:"request_id,omitempty"`
	After     string `json:"after,omitempty"`
	Limit     int    `json:"limit,omitempty"`
}

// AccountRevoke reports the clients of one account that a software-wide
// revoke revoked, or in a dry run would revoke.
type AccountRevoke struct {
	User    string   `json:"user"`
	Clients []string `json:"clients"`
	// PasswordResetRequired is true when one of the clients keeps password
	// access, which only a password change ends.
	PasswordResetRequired bool `json:"password_reset_required,omitempty"`
}

// RevokeSoftwareReply is one page of a software-wide revoke.
type RevokeSoftwareReply struct {
	DryRun   bool            `json:"dry_run"`
	Accounts []AccountRevoke `json:"accounts"`
	// Next is the After of the request for the next page, and empty when
	// this page is the last.
	Next string `json:"next,omitempty"`
	// Seq is the stream sequence of the page's last client.revoked event.
	Seq uint64 `json:"seq,omitempty"`
}

// softwareSelector returns the revoke selector of software and version, or
// an error wrapping ErrBadRequest.
func softwareSelector(software, version string) (string, error) {
	switch {
	case strings.TrimSpace(software) == "":
		return "", fmt.Errorf("%w: software is missing: set a software name such as Gajim", ErrBadRequest)
	case strings.Contains(software, "/"):
		return "", fmt.Errorf("%w: software %q: a name must not contain '/'; give the version separately", ErrBadRequest, software)
	}
	sel := projector.SoftwarePrefix + software
	if version != "" {
		sel += "/" + version
	}
	if len(sel) > MaxSelectorLen {
		return "", fmt.Errorf("%w: software and version are longer than %d bytes", ErrBadRequest, MaxSelectorLen)
	}
	return sel, nil
}

func accountsLimit(limit int) (int, error) {
	switch {
	case limit < 0 || limit > MaxAccountsLimit:
		return 0, fmt.Errorf("%w: limit %d: expected 1 to %d, or 0 for %d", ErrBadRequest, limit, MaxAccountsLimit, DefaultAccountsLimit)
	case limit == 0:
		return DefaultAccountsLimit, nil
	}
	return limit, nil
}

// accountsAfter returns the accounts of the view in JID order after after.
func (s *Service) accountsAfter(after string) []string {
	users := s.cfg.Views.Accounts()
	i, found := slices.BinarySearch(users, after)
	if found {
		i++
	}
	return users[i:]
}

func (s *Service) handleAccounts(ctx context.Context, req micro.Request) (any, error) {
	var r AccountsRequest
	if err := decodeBody(req, &r); err != nil {
		return nil, err
	}
	return s.Accounts(ctx, r)
}

// Accounts returns one page of the accounts that have a listed client of
// r.Software. Errors wrap ErrBadRequest, or ErrTimeout when ctx ends.
func (s *Service) Accounts(ctx context.Context, r AccountsRequest) (*AccountsReply, error) {
	selector, err := softwareSelector(r.Software, r.Version)
	if err != nil {
		return nil, err
	}
	limit, err := accountsLimit(r.Limit)
	if err != nil {
		return nil, err
	}
	reply := &AccountsReply{Accounts: []AccountMatch{}}
	size := 0
	for _, user := range s.accountsAfter(r.After) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: accounts: %v", ErrTimeout, ctx.Err())
		}
		targets := s.cfg.Views.Resolve(user, selector)
		if len(targets) == 0 {
			continue
		}
		m := AccountMatch{User: user}
		for _, t := range targets {
			m.Clients = append(m.Clients, t.View)
		}
		size += encodedSize(m)
		if len(reply.Accounts) > 0 && (len(reply.Accounts) >= limit || size > maxReplyBytes) {
			reply.Next = reply.Accounts[len(reply.Accounts)-1].User
			break
		}
		reply.Accounts = append(reply.Accounts, m)
	}
	return reply, nil
}

func (s *Service) handleRevokeSoftware(ctx context.Context, req micro.Request) (any, error) {
	var r RevokeSoftwareRequest
	if err := decodeBody(req, &r); err != nil {
		return nil, err
	}
	return s.RevokeSoftware(ctx, r)
}

// RevokeSoftware carries out one page of a software-wide revoke: for each
// matching account it revokes the matching clients as Revoke does, with an
// event id derived from the request id and the account. A dry run changes
// nothing. After an ErrUnavailable the accounts before the failed one stay
// revoked; a retry with the same request id stores no revoke twice.
func (s *Service) RevokeSoftware(ctx context.Context, r RevokeSoftwareRequest) (*RevokeSoftwareReply, error) {
	selector, err := softwareSelector(r.Software, r.Version)
	if err != nil {
		return nil, err
	}
	limit, err := accountsLimit(r.Limit)
	if err != nil {
		return nil, err
	}
	if r.Actor == "" {
		r.Actor = DefaultAdminActor
	}
	if r.RequestID == "" {
		r.RequestID = events.NewID()
	}

	reply := &RevokeSoftwareReply{DryRun: r.DryRun, Accounts: []AccountRevoke{}}
	for _, user := range s.accountsAfter(r.After) {
		if len(reply.Accounts) >= limit {
			reply.Next = reply.Accounts[len(reply.Accounts)-1].User
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: revoke-software: %v", ErrTimeout, ctx.Err())
		}
		ar, err := s.revokeSoftwareOf(ctx, user, selector, r)
		if err != nil {
			return nil, err
		}
		if ar == nil {
			continue
		}
		reply.Accounts = append(reply.Accounts, ar.AccountRevoke)
		reply.Seq = max(reply.Seq, ar.seq)
	}
	return reply, nil
}

type accountRevokeResult struct {
	AccountRevoke
	seq uint64
}

// revokeSoftwareOf revokes, or in a dry run lists, the clients of user
// that selector matches, and returns nil when none does.
func (s *Service) revokeSoftwareOf(ctx context.Context, user, selector string, r RevokeSoftwareRequest) (*accountRevokeResult, error) {
	if r.DryRun {
		targets := s.cfg.Views.Resolve(user, selector)
		if len(targets) == 0 {
			return nil, nil
		}
		ar := &accountRevokeResult{AccountRevoke: AccountRevoke{User: user}}
		for _, t := range targets {
			ar.Clients = append(ar.Clients, t.View.ID)
			ar.PasswordResetRequired = ar.PasswordResetRequired || t.View.HasAuth(projector.AuthPassword)
		}
		return ar, nil
	}
	id := r.RequestID + "-" + events.UserKey(user)
	one, err := s.Revoke(ctx, RevokeRequest{User: user, Selector: selector, Actor: r.Actor, RequestID: id})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w (stopped at account %s)", err, user)
	}
	return &accountRevokeResult{
		AccountRevoke: AccountRevoke{User: user, Clients: one.Revoked, PasswordResetRequired: one.PasswordResetRequired},
		seq:           one.Seq,
	}, nil
}

// decodeBody parses a request body that names no single account.
func decodeBody(req micro.Request, v any) error {
	if len(req.Data()) > MaxRequestSize {
		return fmt.Errorf("%w: request of %d bytes exceeds %d", ErrBadRequest, len(req.Data()), MaxRequestSize)
	}
	if err := json.Unmarshal(req.Data(), v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

func encodedSize(v any) int {
	data, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(data)
}

// Accounts returns every account with a listed client of req.Software, and
// of req.Version when set, reading page after page from req.After on.
// Errors wrap ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) Accounts(ctx context.Context, req AccountsRequest) ([]AccountMatch, error) {
	var all []AccountMatch
	for {
		var page AccountsReply
		if err := c.callScan(ctx, AccountsSubject, req, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Accounts...)
		if page.Next == "" {
			return all, nil
		}
		req.After = page.Next
	}
}

// RevokeSoftware carries out a software-wide revoke over every account,
// page after page, and calls page, if not nil, with each page's reply as it
// arrives. It returns the accounts of all pages. Every page uses the same
// request id, so a repeated call with req.RequestID set stores no revoke
// twice. Errors wrap ErrBadRequest, ErrUnavailable or ErrTimeout; the
// pages before an error are carried out.
func (c *Client) RevokeSoftware(ctx context.Context, req RevokeSoftwareRequest, page func(*RevokeSoftwareReply)) ([]AccountRevoke, error) {
	if req.RequestID == "" && !req.DryRun {
		req.RequestID = events.NewID()
	}
	var all []AccountRevoke
	for {
		var reply RevokeSoftwareReply
		if err := c.callScan(ctx, RevokeSoftwareSubject, req, &reply); err != nil {
			return all, err
		}
		if page != nil {
			page(&reply)
		}
		all = append(all, reply.Accounts...)
		if reply.Next == "" {
			return all, nil
		}
		req.After = reply.Next
	}
}
