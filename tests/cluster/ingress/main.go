package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	versioned "knative.dev/networking/pkg/client/clientset/versioned"
	netinformers "knative.dev/networking/pkg/client/informers/externalversions"
)

var metav1UpdateOptions = metav1.UpdateOptions{}

func keyOf(ing *v1alpha1.Ingress) types.NamespacedName {
	return types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (empty: in-cluster config)")
	class := flag.String("class", "hermes.ingress.networking.knative.dev", "ingress class served")
	isDefault := flag.Bool("default-class", false, "also serve KIngresses without a class annotation")
	externalAddr := flag.String("external-listen", ":8080", "listener for ExternalIP rules")
	localAddr := flag.String("local-listen", ":8081", "listener for every rule (cluster-local traffic)")
	publicDomain := flag.String("public-domain", "hermes-ingress.hermes-ingress.svc.cluster.local",
		"DomainInternal of the Service in front of the external listener")
	privateDomain := flag.String("private-domain", "hermes-ingress-local.hermes-ingress.svc.cluster.local",
		"DomainInternal of the Service in front of the local listener")
	clusterDomain := flag.String("cluster-domain", "cluster.local", "cluster DNS domain")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, *kubeconfig, *class, *isDefault, *externalAddr, *localAddr, *publicDomain,
		*privateDomain, *clusterDomain); err != nil {
		log.Error("hermes-ingress stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger, kubeconfig, class string, isDefault bool, externalAddr, localAddr,
	publicDomain, privateDomain, clusterDomain string) error {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return err
	}
	cfg.UserAgent = "hermes-ingress"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	netClient, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	kubeFactory := kubeinformers.NewSharedInformerFactory(kube, 10*time.Minute)
	netFactory := netinformers.NewSharedInformerFactory(netClient, 10*time.Minute)
	services := kubeFactory.Core().V1().Services()
	slices := kubeFactory.Discovery().V1().EndpointSlices()
	ingresses := netFactory.Networking().V1alpha1().Ingresses()

	table := new(atomic.Pointer[Table])
	table.Store(BuildTable(nil))
	ctl := &Controller{
		Class: class, IsDefault: isDefault, Client: netClient, Ingresses: ingresses.Lister(),
		Table: table, PublicDomain: publicDomain, PrivateDomain: privateDomain, Log: log,
		dirty: make(chan struct{}, 1),
	}
	res := &Resolver{Services: services.Lister(), Slices: slices.Lister(), ClusterDomain: clusterDomain}
	ctl.Resolver = res
	if _, err := ingresses.Informer().AddEventHandler(ctl.Handler()); err != nil {
		return err
	}
	if _, err := services.Informer().AddEventHandler(ctl.Handler()); err != nil {
		return err
	}
	if _, err := slices.Informer().AddEventHandler(ctl.Handler()); err != nil {
		return err
	}
	kubeFactory.Start(ctx.Done())
	netFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced, slices.Informer().HasSynced,
		ingresses.Informer().HasSynced) {
		return errors.New("informer caches did not sync")
	}
	log.Info("caches synced", "class", class, "default", isDefault, "external", externalAddr, "local", localAddr)
	go ctl.Run(ctx)
	ctl.Kick()

	errs := make(chan error, 2)
	servers := []*http.Server{
		newServer(externalAddr, NewProxy(true, table, res, log)),
		newServer(localAddr, NewProxy(false, table, res, log)),
	}
	for _, s := range servers {
		go func(s *http.Server) { errs <- s.ListenAndServe() }(s)
	}
	select {
	case err = <-errs:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	return err
}

// newServer speaks HTTP/1.1 and h2c (prior knowledge, as gRPC clients use it).
func newServer(addr string, h http.Handler) *http.Server {
	s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 30 * time.Second}
	s.Protocols = new(http.Protocols)
	s.Protocols.SetHTTP1(true)
	s.Protocols.SetUnencryptedHTTP2(true)
	return s
}
