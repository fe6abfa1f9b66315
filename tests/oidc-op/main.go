// oidc-op: a real OpenID provider for the tests (zitadel/oidc v3, an OpenID-certified Go library,
// with its example storage: in-memory clients, users, codes and tokens). What this program adds is
// what the tests need that the stock example server does not offer: a loopback-only listener on a
// port the OS picks, the issuer named after it, the relying party's client id, secret and redirect
// URIs from the environment, and signing-key rotation (POST /_test/rotate: a new key signs from then
// on, the old one stays in the JWKS, as a real provider rotates), and a signing hook for claims the
// provider would never issue itself (POST /_test/sign: another audience, an expired token, …; with
// ?key=stranger, signed by a key it does not publish) so the relying party's checks can be tested.
//
// Env: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (comma-separated), USERS_FILE (optional: the example
// storage's JSON users; a user's "Groups" list, if any, is released as the `groups` claim at the
// userinfo endpoint, as providers that share group membership do), PORT (optional; 0 = any free
// port). Prints OIDC_ISSUER=<url> once it listens.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type key struct {
	id  string
	rsa *rsa.PrivateKey
}

func (k *key) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *key) Key() any                                    { return k.rsa }
func (k *key) ID() string                                  { return k.id }

type public struct{ k *key }

func (p public) ID() string                         { return p.k.id }
func (p public) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p public) Use() string                        { return "sig" }
func (p public) Key() any                           { return &p.k.rsa.PublicKey }

// rotating is the example storage with a key ring: the newest key signs, all are published.
type rotating struct {
	*storage.Storage
	mu     sync.Mutex
	keys   []*key
	groups map[string][]string
}

// SetUserinfoFromToken is the example storage's userinfo, with the user's groups (if any) as `groups`.
func (r *rotating) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := r.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	if g, ok := r.groups[subject]; ok {
		userinfo.AppendClaims("groups", g)
	}
	return nil
}

func (r *rotating) rotate() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, &key{id: uuid.NewString(), rsa: k})
	return r.keys[len(r.keys)-1].id, nil
}

func (r *rotating) SigningKey(context.Context) (op.SigningKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[len(r.keys)-1], nil
}

func (r *rotating) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (r *rotating) KeySet(context.Context) ([]op.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]op.Key, 0, len(r.keys))
	for _, k := range r.keys {
		out = append(out, public{k})
	}
	return out, nil
}

func env(k, fallback string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return fallback
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ln, err := net.Listen("tcp", "127.0.0.1:"+env("PORT", "0"))
	if err != nil {
		log.Error("listen", "error", err)
		os.Exit(1)
	}
	issuer := fmt.Sprintf("http://127.0.0.1:%d/", ln.Addr().(*net.TCPAddr).Port)
	var redirects []string
	for _, u := range strings.Split(os.Getenv("REDIRECT_URI"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			redirects = append(redirects, u)
		}
	}
	storage.RegisterClients(storage.WebClient(env("CLIENT_ID", "studio"), env("CLIENT_SECRET", "studio-secret"), redirects...))
	users := storage.NewUserStore(issuer)
	groups := map[string][]string{}
	if f := os.Getenv("USERS_FILE"); f != "" {
		if users, err = storage.StoreFromFile(f); err != nil {
			log.Error("users file", "error", err)
			os.Exit(1)
		}
		raw, err := os.ReadFile(f)
		var listed map[string]struct{ Groups []string }
		if err == nil {
			err = json.Unmarshal(raw, &listed)
		}
		if err != nil {
			log.Error("users file", "error", err)
			os.Exit(1)
		}
		for id, u := range listed {
			if u.Groups != nil {
				groups[id] = u.Groups
			}
		}
	}
	store := &rotating{Storage: storage.NewStorage(users), groups: groups}
	if _, err := store.rotate(); err != nil {
		log.Error("key", "error", err)
		os.Exit(1)
	}
	provider := exampleop.SetupServer(issuer, store, log, false)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_test/rotate", func(w http.ResponseWriter, _ *http.Request) {
		id, err := store.rotate()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		log.Info("signing key rotated", "kid", id)
		fmt.Fprintln(w, id)
	})
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Error("key", "error", err)
		os.Exit(1)
	}
	mux.HandleFunc("POST /_test/sign", func(w http.ResponseWriter, r *http.Request) {
		claims, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sk, _ := store.SigningKey(r.Context())
		k := sk.(*key)
		if r.URL.Query().Get("key") == "stranger" {
			k = &key{id: k.id, rsa: stranger}
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.rsa, KeyID: k.id}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		signed, err := signer.Sign(claims)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		token, err := signed.CompactSerialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, token)
	})
	mux.Handle("/", provider)
	fmt.Printf("OIDC_ISSUER=%s\n", issuer)
	if err := http.Serve(ln, mux); err != nil {
		log.Error("serve", "error", err)
		os.Exit(1)
	}
}
