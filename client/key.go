package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// APIKey is an API key of one tenant, without the key itself.
type APIKey struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreatedAPIKey is the answer of CreateKey: the only one that holds Key.
type CreatedAPIKey struct {
	APIKey
	// Key is the key to send as "Authorization: Bearer <key>": "hk_…".
	Key string `json:"key"`
}

// KeyCreate is the body of CreateKey. Tenant is required.
type KeyCreate struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name,omitempty"`
}

// KeyFilter selects API keys for ListKeys and Keys.
type KeyFilter struct {
	// Tenant, when not nil, lists that tenant's keys only.
	Tenant *string
	PageOptions
}

// CreateKey is POST /v1/keys (the operator key only): a key that sees one
// tenant.
func (c *Client) CreateKey(ctx context.Context, k KeyCreate) (*CreatedAPIKey, error) {
	var out CreatedAPIKey
	if err := c.call(ctx, http.MethodPost, "/v1/keys", k, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys is GET /v1/keys (the operator key only): one page, newest first.
func (c *Client) ListKeys(ctx context.Context, f KeyFilter) (Page[*APIKey], error) {
	q := url.Values{}
	if f.Tenant != nil {
		q.Set("tenant", *f.Tenant)
	}
	return listPage[*APIKey](ctx, c, "/v1/keys", q, f.PageOptions)
}

// Keys iterates over the API keys of f, newest first, page after page.
func (c *Client) Keys(ctx context.Context, f KeyFilter) iter.Seq2[*APIKey, error] {
	return all(ctx, f.PageOptions, func(ctx context.Context, o PageOptions) (Page[*APIKey], error) {
		f.PageOptions = o
		return c.ListKeys(ctx, f)
	})
}

// DeleteKey is DELETE /v1/keys/{id} (the operator key only): the key is
// refused from then on, by every node within a second.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	if id == "" {
		return errEmptyID
	}
	return c.call(ctx, http.MethodDelete, pathOf("/v1/keys", id), nil, nil)
}
