// hello: the smallest Knative workload the test cluster proves Serving and Eventing with, before Hermes.
//
// GET / answers "hello from <K_REVISION>"; a POST (a CloudEvent in binary mode, as a Trigger delivers it)
// is logged as one JSON line with its ce-type and ce-source and counted; GET /events returns what this
// instance has received. Standard library only, built static (CGO_ENABLED=0) into a ko-style image.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
)

type event struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	ID     string `json:"id"`
}

func main() {
	var mu sync.Mutex
	seen := []event{}
	http.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			e := event{Type: r.Header.Get("Ce-Type"), Source: r.Header.Get("Ce-Source"), ID: r.Header.Get("Ce-Id")}
			line, _ := json.Marshal(map[string]any{"msg": "event received", "event": e})
			log.Print(string(line))
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			return
		}
		fmt.Fprintf(w, "hello from %s\n", os.Getenv("K_REVISION"))
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.SetFlags(0)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
