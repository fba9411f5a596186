package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/hookline/hookline/client"
)

// The commands `hookline keys …` and `hookline stats`.
func init() {
	var k client.KeyCreate
	register("keys", "create", &apiCommand{
		summary: "Make an API key that sees one tenant only (with the operator key). The key is shown this once.", max: 0,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&k.Tenant, "tenant", "", "the tenant the key acts for (required)")
			fs.StringVar(&k.Name, "name", "", "a name for people, such as \"acme production\"")
		},
		run: func(x *inv) error {
			if k.Tenant == "" {
				return usageError(x.stderr, x.name, fmt.Errorf("--tenant is required: the tenant whose objects the key may see"))
			}
			key, err := x.c.CreateKey(x.ctx, k)
			if err != nil {
				return err
			}
			return x.print(key, func(w io.Writer) {
				fmt.Fprintf(w, "Created key %s for tenant %s; shown only this once:\n\n    %s\n\n", key.ID, key.Tenant, key.Key)
				fmt.Fprintf(w, "Revoke it with: hookline keys delete %s\n", key.ID)
			})
		},
	})

	var (
		tenant optString
		limit  int
	)
	register("keys", "list", &apiCommand{
		summary: "List the tenants' API keys, newest first (without the keys).", max: 0,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.Var(&tenant, "tenant", "only this tenant's")
			limitFlag(fs, &limit)
		},
		run: func(x *inv) error {
			f := client.KeyFilter{PageOptions: client.PageOptions{Limit: pageSize(limit)}}
			if tenant.set {
				f.Tenant = &tenant.v
			}
			keys, err := take(x.c.Keys(x.ctx, f), limit)
			if err != nil {
				return err
			}
			return x.print(keys, func(w io.Writer) {
				if len(keys) == 0 {
					fmt.Fprintln(w, "No keys. Make one with: hookline keys create --tenant NAME")
					return
				}
				rows := make([][]string, len(keys))
				for i, k := range keys {
					rows[i] = []string{k.ID, k.Tenant, or(k.Name, "-"), when(&k.CreatedAt)}
				}
				table(w, []string{"ID", "TENANT", "NAME", "CREATED"}, rows)
			})
		},
	})

	register("keys", "delete", &apiCommand{
		args: "ID", summary: "Revoke a tenant's API key: every node refuses it within a second.", min: 1, max: 1,
		run: func(x *inv) error {
			if err := x.c.DeleteKey(x.ctx, x.args[0]); err != nil {
				return err
			}
			return x.print(map[string]any{"id": x.args[0], "deleted": true}, func(w io.Writer) {
				fmt.Fprintf(w, "Revoked key %s.\n", x.args[0])
			})
		},
	})

	register("stats", "", &apiCommand{
		summary: "Show the service's figures (with a tenant's key, that tenant's).", max: 0,
		run: func(x *inv) error {
			st, err := x.c.Stats(x.ctx)
			if err != nil {
				return err
			}
			return x.print(st, func(w io.Writer) {
				n := func(v int64) string { return strconv.FormatInt(v, 10) }
				c := st.EndpointsByCircuit
				circuits := fmt.Sprintf("%d closed, %d open, %d half-open; %d disabled", c.Closed, c.Open, c.HalfOpen, st.EndpointsDisabled)
				if st.Node == nil { // a tenant's key
					fields(w, "Tenant", st.Tenant, "Endpoints", n(st.Endpoints), "Circuits", circuits, "Pending", n(st.Pending),
						"Failed", n(st.Failed), "Deliveries/s", ff(st.DeliveriesPerSecond), "Attempts (1 h)", n(st.Attempts),
						"Failures (1 h)", n(st.Failures), "Success rate", pct(st.SuccessRate))
					return
				}
				fields(w, "Pending", n(st.Pending), "Delivered", n(st.Delivered), "Failed", n(st.Failed), "Events", n(st.Events),
					"Endpoints", n(st.Endpoints), "Circuits", circuits, "Deliveries/s", ff(st.DeliveriesPerSecond),
					"Latency p50/p95/p99", fmt.Sprintf("%s / %s / %s ms", ff(st.LatencyMS.P50), ff(st.LatencyMS.P95), ff(st.LatencyMS.P99)),
					"Success rate", pct(st.SuccessRate),
					"Node", fmt.Sprintf("%s: %d partitions, %d in memory, %d in flight", st.Node.ID, st.Node.Partitions, st.Node.InMemory, st.Node.InFlight))
			})
		},
	})
}
