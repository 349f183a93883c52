package mockserver

import (
	"embed"
	"fmt"
	"net/http"
	"path"
	"strconv"

	"github.com/julienschmidt/httprouter"
)

// The console is one page and its script, style sheet and icon, embedded so that the binary
// serves them offline and a test server serves the same bytes.
//
//go:embed console
var consoleFiles embed.FS

// consoleAsset is a file of the console, ready to serve.
type consoleAsset struct {
	contentType string
	body        []byte
}

// consoleAssets are the console's files by the name they are served under:
// "" is the page itself, at /__admin/console.
var consoleAssets = func() map[string]consoleAsset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	assets := map[string]consoleAsset{}
	for name, file := range map[string]string{"": "index.html", "console.css": "console.css", "console.js": "console.js", "favicon.svg": "favicon.svg"} {
		b, err := consoleFiles.ReadFile("console/" + file)
		if err != nil {
			panic(err) // the embed directive guarantees the files
		}
		assets[name] = consoleAsset{contentType: types[path.Ext(file)], body: b}
	}
	return assets
}()

// consoleCSP lets the page load only its own files and call only its own
// server: no inline script or style, no other host, no framing.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleRoutes serves the console. Its files are public, even with an admin
// token: they hold no data, and a browser cannot send a Bearer token when it
// opens a page. The page asks for the token and sends it on its admin calls.
func (s *Server) consoleRoutes(r *httprouter.Router) {
	page := s.consoleFile("")
	r.GET("/__admin/console", page)
	r.HEAD("/__admin/console", page)
	files := func(w http.ResponseWriter, hr *http.Request, ps httprouter.Params) {
		name := ps.ByName("file")[1:] // after the catch-all's leading slash
		if name == "" {
			// The page's links are relative to /__admin/console.
			http.Redirect(w, hr, "../console", http.StatusMovedPermanently)
			return
		}
		s.consoleFile(name)(w, hr, ps)
	}
	r.GET("/__admin/console/*file", files)
	r.HEAD("/__admin/console/*file", files)
}

// consoleFile makes the handle that serves the console's file name, or a 404.
func (s *Server) consoleFile(name string) httprouter.Handle {
	return func(w http.ResponseWriter, hr *http.Request, _ httprouter.Params) {
		a, ok := consoleAssets[name]
		if !ok {
			rw := w.(*responseWriter)
			s.writeError(rw, rw.req, &apiError{status: http.StatusNotFound, code: codeNotFound,
				messages: []string{fmt.Sprintf("the console has no file %q", name)}})
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache") // a new binary's console shows at once
		w.WriteHeader(http.StatusOK)
		w.Write(a.body)
	}
}
