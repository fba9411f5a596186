//go:build ignore

// Command tabs (go run docs/perf/tools/dashboard-tabs/tabs.go URL KEY PAGE...) opens dashboard tabs in headless chromium, signed in, and
// keeps them open until interrupted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	url, key := os.Args[1], os.Args[2]
	pages := os.Args[3:]
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Flag("headless", true), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(must2(os.MkdirTemp("", "tabs-profile"))),
		chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	first, cancel1 := chromedp.NewContext(actx)
	defer cancel1()
	must(chromedp.Run(first, chromedp.Navigate(url+"/"), chromedp.WaitVisible("#api_key", chromedp.ByID),
		chromedp.SendKeys("#api_key", key, chromedp.ByID), chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible(`//span[@id="live-status"][text()="Live"]`)))
	tabs := []context.Context{first}
	for i := 1; i < len(pages); i++ {
		c, _ := chromedp.NewContext(first)
		tabs = append(tabs, c)
	}
	for i, p := range pages {
		ctx, c := context.WithTimeout(tabs[i], 30*time.Second)
		must(chromedp.Run(ctx, chromedp.Navigate(url+p), chromedp.WaitVisible(`//span[@id="live-status"][text()="Live"]`)))
		c()
	}
	fmt.Println("tabs open:", pages)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func must2(s string, err error) string {
	must(err)
	return s
}
