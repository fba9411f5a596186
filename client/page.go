package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list, newest first. NextCursor is "" on the last
// page; otherwise pass it as the Cursor of the next call.
type Page[T any] struct {
	Data       []T
	NextCursor string
}

// PageOptions choose a page of a list.
type PageOptions struct {
	// Limit is the page size, 1 to 1000; 0 means the server's default (50).
	Limit int
	// Cursor is the NextCursor of the previous page; "" starts at the
	// newest.
	Cursor string
}

// values adds the page options to q.
func (o PageOptions) values(q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// wirePage is a list as the API answers it.
type wirePage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// listPage gets one page of the list at path.
func listPage[T any](ctx context.Context, c *Client, path string, q url.Values, o PageOptions) (Page[T], error) {
	var w wirePage[T]
	if err := c.get(ctx, path, o.values(q), &w); err != nil {
		return Page[T]{}, err
	}
	p := Page[T]{Data: w.Data}
	if w.NextCursor != nil {
		p.NextCursor = *w.NextCursor
	}
	return p, nil
}

// all iterates over every item of a list from o.Cursor on, page by page. An
// error is yielded once, with a zero item, and ends the iteration.
func all[T any](ctx context.Context, o PageOptions, page func(context.Context, PageOptions) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := page(ctx, o)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Data {
				if !yield(item, nil) {
					return
				}
			}
			if p.NextCursor == "" || len(p.Data) == 0 {
				return
			}
			o.Cursor = p.NextCursor
		}
	}
}
