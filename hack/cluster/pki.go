package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// certSpec is one certificate the cluster's components present.
type certSpec struct {
	name   string // file stem under pki/
	cn     string
	orgs   []string
	server bool
	dns    []string
	ips    []string
}

// clientUsers are the identities that get a kubeconfig: each component
// authenticates to the apiserver with a client certificate, as kubeadm sets
// them up.
var clientUsers = []certSpec{
	{name: "admin", cn: "kubernetes-admin", orgs: []string{"system:masters"}},
	{name: "controller-manager", cn: "system:kube-controller-manager"},
	{name: "scheduler", cn: "system:kube-scheduler"},
	{name: "kubelet", cn: "system:node:" + nodeName, orgs: []string{"system:nodes"}},
	{name: "kube-proxy", cn: "system:kube-proxy"},
}

// writePKI creates the cluster CA, the serving certificates of the
// apiserver and the kubelet, the apiserver's client certificate for the
// kubelet, the service-account signing key, and a kubeconfig per client.
func writePKI(l *layout) error {
	dir := l.path("pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcp-cluster-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writeCertKey(dir, "ca", caDER, caKey); err != nil {
		return err
	}
	specs := []certSpec{
		{name: "apiserver", cn: "kube-apiserver", server: true,
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDomain, "localhost"},
			ips: []string{l.NodeIP, apiServiceIP, "127.0.0.1"}},
		{name: "kubelet-serving", cn: nodeName, server: true, dns: []string{nodeName, "localhost"}, ips: []string{l.NodeIP, "127.0.0.1"}},
		// The apiserver calls the kubelet for logs, exec and port-forward.
		{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
	}
	specs = append(specs, clientUsers...)
	for i, s := range specs {
		if err := issue(dir, s, int64(i+2), ca, caKey); err != nil {
			return fmt.Errorf("certificate %s: %w", s.name, err)
		}
	}
	// Service-account tokens are signed with this key (ES256).
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, "sa.key"), saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return err
	}
	for _, u := range clientUsers {
		path := l.componentKubeconfig(u.name)
		if u.name == "admin" {
			path = l.kubeconfig()
		}
		if err := writeKubeconfig(path, l.apiServerURL(), filepath.Join(dir, "ca.crt"), filepath.Join(dir, u.name+".crt"), filepath.Join(dir, u.name+".key")); err != nil {
			return err
		}
	}
	return nil
}

func issue(dir string, s certSpec, serial int64, ca *x509.Certificate, caKey crypto.Signer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     s.dns,
	}
	if s.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	return writeCertKey(dir, s.name, der, key)
}

func writeCertKey(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, name+".key"), key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	b, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), 0o600)
}

// writeKubeconfig writes a kubeconfig with the certificates embedded, so
// it can be copied anywhere.
func writeKubeconfig(path, server, caFile, certFile, keyFile string) error {
	read := func(p string) []byte { b, _ := os.ReadFile(p); return b }
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["mcp-cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: read(caFile)}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: read(certFile), ClientKeyData: read(keyFile)}
	cfg.Contexts["mcp-cluster"] = &clientcmdapi.Context{Cluster: "mcp-cluster", AuthInfo: "user"}
	cfg.CurrentContext = "mcp-cluster"
	return clientcmd.WriteToFile(*cfg, path)
}
