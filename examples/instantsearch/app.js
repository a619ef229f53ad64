// InstantSearch.js on Hermes: Algolia's own client, pointed at the search function. Nothing else changes.
// Where Hermes is comes from this page's address: ?hermes=http://127.0.0.1:8080&index=documents&key=<search key>
const options = new URLSearchParams(window.location.search);
const hermes = new URL(options.get("hermes") || "http://127.0.0.1:8080");
const indexName = options.get("index") || "documents";

// appId is required by the client and ignored by Hermes; the API key is a Hermes search key when keys are on.
const searchClient = window["algoliasearch/lite"].liteClient("hermes", options.get("key") || "none", {
  hosts: [{ url: hermes.hostname, port: Number(hermes.port) || undefined, protocol: hermes.protocol.replace(":", ""), accept: "readWrite" }],
});

const search = instantsearch({
  indexName,
  searchClient,
  insights: false, // no events to Algolia
  future: { preserveSharedStateOnUnmount: true },
});

const { configure, searchBox, stats, hits, refinementList, rangeInput, pagination } = instantsearch.widgets;

search.addWidgets([
  configure({ hitsPerPage: 8 }),
  searchBox({ container: "#searchbox", placeholder: "Search the books" }),
  stats({
    container: "#stats",
    templates: { text: (data, { html }) => html`<span data-nb-hits=${data.nbHits}>${data.nbHits} books</span>` },
  }),
  hits({
    container: "#hits",
    templates: {
      item: (hit, { html, components }) => html`
        <article class="hit" data-id=${hit.objectID} data-pages=${hit.pages} data-language=${hit.language}>
          <h2>${components.Highlight({ attribute: "title", hit })}</h2>
          <p>${components.Highlight({ attribute: "content", hit })}</p>
          <small>${hit.pages} pages · ${hit.language}</small>
        </article>`,
    },
  }),
  refinementList({ container: "#language", attribute: "language" }),
  rangeInput({ container: "#pages", attribute: "pages" }),
  pagination({ container: "#pagination" }),
]);

search.on("error", ({ error }) => {
  document.getElementById("error").textContent = error.message;
});

search.start();
