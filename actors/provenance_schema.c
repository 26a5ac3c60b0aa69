/*  =========================================================================
    provenance_schema - the tables of manifests, summaries and the provenance graph

    Conventions: hashes are 32-byte BLOBs; timestamps unix seconds as REAL;
    64-bit unsigned counters (price, queries, revenue, path weights) are
    stored as INTEGER holding the same 64 bits (read back with a cast to
    uint64_t). Lists are rows of their own tables, never text to parse.
    Released migrations are never edited; append new ones.
    ========================================================================= */

#include "provenance_schema.h"

//  Migration 3's trigger body: ProvAdd's labelling statements for the row
//  being queued.
#define LABEL_NEW PROV_REACH_SQL("NEW.hash") "; " PROV_LABEL_SQL("NEW.hash") "; "

static const char *const s_migrations[] = {
    //  1: manifests (with tags and access lists) and L1 summaries
    "CREATE TABLE manifests ("
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    "  content_type TEXT NOT NULL,"
    "  version_number INTEGER NOT NULL CHECK (version_number >= 1),"
    "  version_previous BLOB," //  NULL for a first version
    "  version_root BLOB NOT NULL,"
    "  version_timestamp REAL NOT NULL,"
    "  visibility INTEGER NOT NULL,"
    "  title TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  content_size INTEGER NOT NULL,"
    "  mime_type TEXT NOT NULL,"
    "  price INTEGER NOT NULL,"
    "  total_queries INTEGER NOT NULL,"
    "  total_revenue INTEGER NOT NULL,"
    "  created_at REAL NOT NULL,"
    "  updated_at REAL NOT NULL,"
    "  owner TEXT NOT NULL"
    ") WITHOUT ROWID;"
    //  ManifestList walks one of these newest first, by the filter it has.
    "CREATE INDEX manifests_by_created ON manifests (created_at, hash);"
    "CREATE INDEX manifests_by_visibility ON manifests (visibility, created_at, hash);"
    "CREATE INDEX manifests_by_type ON manifests (content_type, created_at, hash);"
    //  ManifestVersions, and the rule that (root, number) is taken once.
    "CREATE UNIQUE INDEX manifests_by_version ON manifests (version_root, version_number);"
    "CREATE TABLE manifest_tags ("
    "  hash BLOB NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  tag TEXT NOT NULL,"
    "  PRIMARY KEY (hash, position)"
    ") WITHOUT ROWID;"
    "CREATE TABLE manifest_access ("
    "  hash BLOB NOT NULL,"
    "  peer_id TEXT NOT NULL,"
    "  allowed INTEGER NOT NULL," //  1: allow list, 0: deny list
    "  PRIMARY KEY (hash, allowed, peer_id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE summaries ("
    "  l0_hash BLOB PRIMARY KEY CHECK (length(l0_hash) = 32),"
    "  mention_count INTEGER NOT NULL,"
    "  summary_text TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE summary_items ("
    "  l0_hash BLOB NOT NULL,"
    "  kind INTEGER NOT NULL," //  0: preview mention, 1: primary topic
    "  position INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  PRIMARY KEY (l0_hash, kind, position)"
    ") WITHOUT ROWID;",

    //  2: the provenance graph. prov_edges: `child` was derived from
    //  `source`. prov_roots is the root cache: for every known hash, its
    //  original sources with the number of derivation paths reaching each
    //  (an original is its own root with weight 1), kept by ProvAdd. A
    //  node's generation bounds ancestry searches: an ancestor's is lower.
    "CREATE TABLE prov_nodes ("
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    "  added_at REAL NOT NULL,"
    "  generation INTEGER NOT NULL DEFAULT 0" //  0 for originals, else 1 + max of its sources'
    ") WITHOUT ROWID;"
    "CREATE TABLE prov_edges ("
    "  child BLOB NOT NULL,"
    "  source BLOB NOT NULL,"
    "  PRIMARY KEY (child, source)"
    ") WITHOUT ROWID;"
    "CREATE INDEX prov_edges_by_source ON prov_edges (source, child);"
    "CREATE TABLE prov_roots ("
    "  hash BLOB NOT NULL,"
    "  root BLOB NOT NULL,"
    "  weight INTEGER NOT NULL,"
    "  PRIMARY KEY (hash, root)"
    ") WITHOUT ROWID;",

    //  3: reachability labels (a chain decomposition, see "Reachability"
    //  in actors/provenance.c). Every node is at (chain, position) on one
    //  chain, a path of ancestors; `reach` packs (cairn_reach, ca_reach.h)
    //  for each chain it reaches the highest position there of an
    //  ancestor. The rows of an older database are labelled here, in
    //  generation order (sources first), by a temporary trigger running
    //  the same statements as ProvAdd.
    "ALTER TABLE prov_nodes ADD COLUMN chain INTEGER;" //  NULL only inside a ProvAdd
    "ALTER TABLE prov_nodes ADD COLUMN position INTEGER;"
    "ALTER TABLE prov_nodes ADD COLUMN reach BLOB;" //  NULL: reaches nothing
    "CREATE UNIQUE INDEX prov_nodes_by_chain ON prov_nodes (chain, position);"
    "CREATE TEMP TABLE prov_label_order (hash BLOB NOT NULL);"
    "CREATE TEMP TABLE prov_label_queue (hash BLOB NOT NULL);"
    "INSERT INTO prov_label_order SELECT hash FROM prov_nodes ORDER BY generation, hash;"
    "CREATE TEMP TRIGGER prov_label AFTER INSERT ON prov_label_queue BEGIN " LABEL_NEW "END;"
    "INSERT INTO prov_label_queue SELECT hash FROM prov_label_order ORDER BY rowid;"
    "DROP TRIGGER prov_label;"
    "DROP TABLE prov_label_queue;"
    "DROP TABLE prov_label_order;",
};

const ca_schema_t provenance_schema = {
    .store = "provenance",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};
