/*
 * The real libc functions, found at their first use by reading the
 * loader's public data: its list of loaded objects (<link.h>) and each
 * object's dynamic section, GNU hash table, symbol and version tables.
 * That is what dlvsym(RTLD_NEXT) does, without the loader's code: the
 * constructor used to call dlsym and dlvsym eleven times, and in every
 * process that loads the shim the first call into the loader's dl* code
 * cost tens of microseconds of cold pages, for functions most processes
 * never call.
 *
 * Async-signal-safe: pure reads of mapped memory, no locks, no
 * allocation, so a first use may be in a vfork child or a signal
 * handler. The one write, the cache of each result, is an atomic store
 * of the value every caller computes alike (a vfork child's store lands
 * in its parent, which would have found the same).
 */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "ew_shim.h"
#include "ew_str.h"

#if __has_include(<gnu/lib-names.h>)
#include <gnu/lib-names.h>
#endif

/* libc's version of each symbol (ew_shim_versions.h), NULL when unknown. */
#ifndef EW_SHIM_V_EXECVE
#define EW_SHIM_V_EXECVE NULL
#endif
#ifndef EW_SHIM_V_EXECVPE
#define EW_SHIM_V_EXECVPE NULL
#endif
#ifndef EW_SHIM_V_EXECVEAT
#define EW_SHIM_V_EXECVEAT NULL
#endif
#ifndef EW_SHIM_V_FEXECVE
#define EW_SHIM_V_FEXECVE NULL
#endif
#ifndef EW_SHIM_V_POSIX_SPAWN
#define EW_SHIM_V_POSIX_SPAWN NULL
#endif
#ifndef EW_SHIM_V_POSIX_SPAWNP
#define EW_SHIM_V_POSIX_SPAWNP NULL
#endif
/* Exactly the compat version, or none. */
#ifndef EW_SHIM_V_POSIX_SPAWN_COMPAT
#define EW_SHIM_V_POSIX_SPAWN_COMPAT NULL
#endif
#ifndef EW_SHIM_V_POSIX_SPAWNP_COMPAT
#define EW_SHIM_V_POSIX_SPAWNP_COMPAT NULL
#endif
#ifndef EW_SHIM_V_SYSTEM
#define EW_SHIM_V_SYSTEM NULL
#endif
#ifndef EW_SHIM_V_POPEN
#define EW_SHIM_V_POPEN NULL
#endif
#ifndef EW_SHIM_V_PCLOSE
#define EW_SHIM_V_PCLOSE NULL
#endif

/*
 * posix_spawn(p) has a default version (GLIBC_2.15 on x86_64) and a
 * compat one that also runs scripts without "#!" through /bin/sh; each of
 * ours calls its own counterpart.
 */
const struct ew_shim_fn_info ew_shim_fns[EW_SHIM_NFNS] = {
	[EW_SHIM_FN_EXECVE] = { "execve", EW_SHIM_V_EXECVE, 0 },
	[EW_SHIM_FN_EXECVPE] = { "execvpe", EW_SHIM_V_EXECVPE, 0 },
	[EW_SHIM_FN_EXECVEAT] = { "execveat", EW_SHIM_V_EXECVEAT, 0 },
	[EW_SHIM_FN_FEXECVE] = { "fexecve", EW_SHIM_V_FEXECVE, 0 },
	[EW_SHIM_FN_POSIX_SPAWN] = { "posix_spawn", EW_SHIM_V_POSIX_SPAWN, 0 },
	[EW_SHIM_FN_POSIX_SPAWNP] = { "posix_spawnp", EW_SHIM_V_POSIX_SPAWNP,
	    0 },
	[EW_SHIM_FN_POSIX_SPAWN_COMPAT] = { "posix_spawn",
	    EW_SHIM_V_POSIX_SPAWN_COMPAT, 1 },
	[EW_SHIM_FN_POSIX_SPAWNP_COMPAT] = { "posix_spawnp",
	    EW_SHIM_V_POSIX_SPAWNP_COMPAT, 1 },
	[EW_SHIM_FN_SYSTEM] = { "system", EW_SHIM_V_SYSTEM, 0 },
	[EW_SHIM_FN_POPEN] = { "popen", EW_SHIM_V_POPEN, 0 },
	[EW_SHIM_FN_PCLOSE] = { "pclose", EW_SHIM_V_PCLOSE, 0 },
};

/* A cache entry: looked up, and libc has none (0 is "not yet"). */
#define EW_SHIM_FN_NONE ((uintptr_t)1)

/* The versym bits of the version index; the rest is the hidden flag. */
#define EW_SHIM_VERSYM_INDEX 0x7fff
#define EW_SHIM_VERSYM_HIDDEN 0x8000
/* Version indexes 0 and 1: local and global (no version). */
#define EW_SHIM_VER_FIRST 2

/* The GNU hash table's header: 4 words before the Bloom filter. */
#define EW_SHIM_GNU_NBUCKETS 0
#define EW_SHIM_GNU_SYMOFFSET 1
#define EW_SHIM_GNU_BLOOM_SIZE 2
#define EW_SHIM_GNU_BLOOM_SHIFT 3
#define EW_SHIM_GNU_HEADER 4
#define EW_SHIM_GNU_SEED 5381
#define EW_SHIM_GNU_MUL 33

static uintptr_t cache[EW_SHIM_NFNS];

/* An object's tables, from its dynamic section. */
struct dso {
	uintptr_t base; /* l_addr */
	const uint32_t *gnu_hash;
	const ElfW(Sym) * symtab;
	const char *strtab;
	const ElfW(Half) * versym; /* NULL: the object has no versions */
	const ElfW(Verdef) * verdef;
	size_t nverdef;
};

/*
 * A dynamic section's address entry: glibc adds l_addr to those of a
 * writable dynamic section in place, not to a read-only one's (the
 * vDSO's, RISC-V's), and an object is mapped above its own size.
 */
static uintptr_t
dyn_ptr(const struct link_map *l, ElfW(Addr) p)
{
	return p < l->l_addr ? l->l_addr + p : p;
}

/* d from l's dynamic section; -ENOTSUP without a GNU hash table. */
static int
dso_read(const struct link_map *l, struct dso *d)
{
	const ElfW(Dyn) * dyn;

	memset(d, 0, sizeof(*d));
	d->base = l->l_addr;
	if (l->l_ld == NULL)
		return -ENOTSUP;
	for (dyn = l->l_ld; dyn->d_tag != DT_NULL; dyn++)
		switch (dyn->d_tag) {
		case DT_GNU_HASH:
			d->gnu_hash = (const void *)dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_SYMTAB:
			d->symtab = (const void *)dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			d->strtab = (const void *)dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_VERSYM:
			d->versym = (const void *)dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_VERDEF:
			d->verdef = (const void *)dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_VERDEFNUM:
			d->nverdef = dyn->d_un.d_val;
			break;
		default:
			break;
		}
	if (d->gnu_hash == NULL || d->symtab == NULL || d->strtab == NULL)
		return -ENOTSUP;
	return 0;
}

/*
 * Can l be searched (dso_read would succeed)? *libcp is set when l is
 * libc (its DT_SONAME is LIBC_SO). One pass over l's dynamic section, in
 * the constructor's section: ew_shim_scope_init checks each object.
 */
EW_SHIM_INIT_TEXT static int
dso_check(const struct link_map *l, int *libcp)
{
	const ElfW(Dyn) * dyn, *soname = NULL;
	uintptr_t gnu_hash = 0, symtab = 0, strtab = 0;

	if (l->l_ld == NULL)
		return 0;
	for (dyn = l->l_ld; dyn->d_tag != DT_NULL; dyn++)
		switch (dyn->d_tag) {
		case DT_GNU_HASH:
			gnu_hash = dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_SYMTAB:
			symtab = dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			strtab = dyn_ptr(l, dyn->d_un.d_ptr);
			break;
		case DT_SONAME:
			if (soname == NULL)
				soname = dyn;
			break;
		default:
			break;
		}
	if (gnu_hash == 0 || symtab == 0 || strtab == 0)
		return 0;
#ifdef LIBC_SO
	if (soname != NULL &&
	    ew_str_eq((const char *)strtab + soname->d_un.d_val, LIBC_SO))
		*libcp = 1;
#else
	(void)soname;
#endif
	return 1;
}

/*
 * The version index of version in d; 0 when d defines no such version
 * (an index of 0 is local: no defined symbol of d matches it). The base
 * version (the object's own name) is not one a symbol is found by.
 */
static unsigned
dso_version(const struct dso *d, const char *version)
{
	const ElfW(Verdef) *vd = d->verdef;
	const ElfW(Verdaux) * aux;
	size_t i;

	for (i = 0; vd != NULL && i < d->nverdef; i++) {
		aux = (const void *)((const char *)vd + vd->vd_aux);
		if (!(vd->vd_flags & VER_FLG_BASE) &&
		    strcmp(d->strtab + aux->vda_name, version) == 0)
			return vd->vd_ndx;
		if (vd->vd_next == 0)
			break;
		vd = (const void *)((const char *)vd + vd->vd_next);
	}
	return 0;
}

static uint32_t
gnu_hash(const char *s)
{
	uint32_t h = EW_SHIM_GNU_SEED;

	for (; *s != '\0'; s++)
		h = h * EW_SHIM_GNU_MUL + (unsigned char)*s;
	return h;
}

/*
 * Does the loader take sym as a definition (glibc's check_match)? (The
 * ELF64 st_info macros are the ELF32 ones.)
 */
static int
defined(const ElfW(Sym) * sym)
{
	unsigned type = ELF64_ST_TYPE(sym->st_info),
		 bind = ELF64_ST_BIND(sym->st_info);

	if (sym->st_shndx == SHN_UNDEF || sym->st_value == 0)
		return 0;
	if (bind != STB_GLOBAL && bind != STB_WEAK)
		return 0;
	/* An indirect function is found by calling it: not here. */
	return type == STT_FUNC || type == STT_NOTYPE || type == STT_OBJECT;
}

/* d's GNU hash table: its Bloom filter, buckets and chains. */
struct gnu {
	uint32_t nbuckets, symoffset, nbloom, shift;
	const ElfW(Addr) * bloom;
	const uint32_t *buckets;
	const uint32_t *chain; /* indexed by symbol - symoffset */
};

static void
gnu_read(const struct dso *d, struct gnu *g)
{
	const uint32_t *gh = d->gnu_hash;

	g->nbuckets = gh[EW_SHIM_GNU_NBUCKETS];
	g->symoffset = gh[EW_SHIM_GNU_SYMOFFSET];
	g->nbloom = gh[EW_SHIM_GNU_BLOOM_SIZE];
	g->shift = gh[EW_SHIM_GNU_BLOOM_SHIFT];
	g->bloom = (const void *)(gh + EW_SHIM_GNU_HEADER);
	g->buckets = (const void *)(g->bloom + g->nbloom);
	g->chain = g->buckets + g->nbuckets;
}

/* The first symbol of g's chain for h, or 0 when there is none. */
static uint32_t
gnu_start(const struct gnu *g, uint32_t h)
{
	const unsigned bits = sizeof(ElfW(Addr)) * CHAR_BIT;
	ElfW(Addr) mask;
	uint32_t i;

	if (g->nbuckets == 0 || g->nbloom == 0)
		return 0;
	mask = ((ElfW(Addr))1 << (h % bits)) |
	    ((ElfW(Addr))1 << ((h >> g->shift) % bits));
	if ((g->bloom[(h / bits) % g->nbloom] & mask) != mask)
		return 0;
	i = g->buckets[h % g->nbuckets];
	return i < g->symoffset ? 0 : i;
}

/*
 * name's definition in d, or NULL. versioned: exactly version index ver
 * of d, as dlvsym. Else the unversioned definition, or the only
 * non-hidden versioned one (the default), as dlsym. In an object without
 * versions, the name alone matches (glibc's check_match).
 */
static const ElfW(Sym) *
    dso_find(const struct dso *d, const char *name, uint32_t h, int versioned,
	unsigned ver)
{
	const ElfW(Sym) * sym, *dflt = NULL;
	struct gnu g;
	uint32_t i, h2;
	unsigned ndx;
	int ndflt = 0;

	gnu_read(d, &g);
	if ((i = gnu_start(&g, h)) == 0)
		return NULL;
	do {
		h2 = g.chain[i - g.symoffset];
		sym = &d->symtab[i];
		if ((h | 1) != (h2 | 1) || !defined(sym) ||
		    strcmp(d->strtab + sym->st_name, name) != 0)
			continue;
		if (d->versym == NULL)
			return sym;
		ndx = d->versym[i] & EW_SHIM_VERSYM_INDEX;
		if (versioned ? ndx == ver : ndx < EW_SHIM_VER_FIRST)
			return sym;
		if (!versioned && !(d->versym[i] & EW_SHIM_VERSYM_HIDDEN) &&
		    ndflt++ == 0)
			dflt = sym;
	} while (!(h2 & 1) && ++i != 0);
	return ndflt == 1 ? dflt : NULL;
}

EW_SHIM_INIT_TEXT int
ew_shim_scope_init(struct ew_shim_scope *s, const struct link_map *map,
    const void *self_ld, const char **namep)
{
	const struct link_map *l, *self = NULL;
	int libc = 0;

	for (l = map; l != NULL && self == NULL; l = l->l_next)
		if (l->l_ld == self_ld)
			self = l;
	if (self == NULL) {
		if (s != NULL)
			s->first = s->last = NULL;
		return -ENOENT;
	}
	*namep = self->l_name != NULL ? self->l_name : "";
	if (s == NULL)
		return 0;
	s->first = s->last = NULL;
	for (l = self->l_next; l != NULL; l = l->l_next) {
		if (!dso_check(l, &libc))
			return 0;
		s->last = l;
	}
	/* Loaded otherwise than preloaded (dlopen): libc is before us. */
	if (libc)
		s->first = self->l_next;
	return 0;
}

uintptr_t
ew_shim_scope_lookup(
    const struct ew_shim_scope *s, const char *name, const char *version)
{
	const struct link_map *l;
	const ElfW(Sym) * sym;
	struct dso d;
	uint32_t h = gnu_hash(name);
	unsigned ver = 0;

	for (l = s->first; l != NULL; l = l->l_next) {
		if (dso_read(l, &d) == 0 &&
		    (version == NULL || d.versym == NULL ||
			(ver = dso_version(&d, version)) != 0) &&
		    (sym = dso_find(&d, name, h, version != NULL, ver)) != NULL)
			return d.base + sym->st_value;
		if (l == s->last)
			break;
	}
	return 0;
}

/* f as the constructor's dlvsym calls found it: see ew_shim_fns. */
static uintptr_t
lookup(const struct ew_shim_scope *s, const struct ew_shim_fn_info *fn)
{
	uintptr_t p = 0;

	if (s->first == NULL)
		return 0;
	if (fn->version != NULL)
		p = ew_shim_scope_lookup(s, fn->name, fn->version);
	if (p == 0 && !fn->exact)
		p = ew_shim_scope_lookup(s, fn->name, NULL);
	return p;
}

uintptr_t
ew_shim_real(enum ew_shim_fn f)
{
	uintptr_t p = __atomic_load_n(&cache[f], __ATOMIC_ACQUIRE);

	if (p == 0) {
		p = lookup(&ew_shim_config()->scope, &ew_shim_fns[f]);
		if (p == 0)
			p = EW_SHIM_FN_NONE;
		__atomic_store_n(&cache[f], p, __ATOMIC_RELEASE);
	}
	return p == EW_SHIM_FN_NONE ? 0 : p;
}

void
ew_shim_real_set(enum ew_shim_fn f, uintptr_t p)
{
	__atomic_store_n(
	    &cache[f], p != 0 ? p : EW_SHIM_FN_NONE, __ATOMIC_RELEASE);
}
