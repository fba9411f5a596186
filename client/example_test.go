package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/hookline/hookline/client"
)

// Send an event, then see where it went: the deliveries are listed page by
// page as the loop asks for them.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HOOKLINE_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.SendEvent(ctx, client.EventCreate{
		Type:           "invoice.paid",
		Data:           json.RawMessage(`{"amount":4200}`),
		IdempotencyKey: "invoice-1234", // a retry of this call sends nothing twice
	})
	if client.IsNotFound(err) || client.Code(err) == "invalid" {
		log.Fatal(err) // the API's message names the field at fault
	} else if err != nil {
		log.Fatal(err)
	}
	for d, err := range c.Deliveries(ctx, client.DeliveryFilter{EventID: res.ID}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.ID, d.EndpointID, d.Status, d.LastStatusCode)
	}
}
