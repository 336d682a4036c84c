// Command scraper fetches the manager's metrics as Prometheus does: over
// HTTPS, with its pod's service-account token as the bearer token. The
// cluster tests run it as a pod, with a service account bound to
// metrics-reader and with one that is not. It prints "HTTP <status>" and
// then the body's lines that start with --match, and fails only when no
// HTTP response came back.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	url := flag.String("url", "", "The metrics URL (required).")
	tokenFile := flag.String("token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token", "The bearer token's file.")
	match := flag.String("match", "", "Print only the body's lines with this prefix.")
	wait := flag.Duration("wait", 30*time.Second, "How long to retry while the URL does not answer at all.")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "scraper: --url is required")
		os.Exit(2)
	}
	if err := scrape(*url, *tokenFile, *match, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "scraper:", err)
		os.Exit(1)
	}
}

func scrape(url, tokenFile, match string, wait time.Duration) error {
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	// The manager's certificate is self-signed (controller-runtime makes it
	// at start), as the ServiceMonitor's insecureSkipVerify says.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	deadline := time.Now().Add(wait)
	for {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := client.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				return err
			}
			fmt.Fprintln(os.Stderr, "scraper: retrying:", err)
			time.Sleep(time.Second)
			continue
		}
		defer resp.Body.Close()
		fmt.Printf("HTTP %d\n", resp.StatusCode)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), match) {
				fmt.Println(sc.Text())
			}
		}
		return sc.Err()
	}
}
