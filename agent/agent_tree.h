/* agent_tree.h: walking one published recording tree without ever following a symlink:
 * writing it as a tar, and removing it. Directories are opened with openat(O_NOFOLLOW) from
 * the tree's own descriptor, so a link swapped in mid-walk leads nowhere outside it. */
#ifndef B3S_AGENT_TREE_H
#define B3S_AGENT_TREE_H

#include <stdatomic.h>
#include <stddef.h>

#define AGENT_TREE_MAX_DEPTH 32 /* BBB's formats nest three or four levels */

/* Writes a pax tar (ustar headers, pax records only where needed) of the directory open as
 * dir into out: the directory itself as `prefix` (ending in '/'), then every directory and
 * regular file below it as prefix + relative path, in name order. Symlinks, devices, FIFOs
 * and sockets are skipped with a warning. 0; -ECANCELED once *stop is set (stop may be
 * NULL); -EAGAIN when a file changed size while it was read; other negative errno with err. */
int agent_tree_tar(int out, int dir, const char *prefix, const atomic_int *stop, char *err,
		   size_t errlen);

/* Removes the directory `name` under the directory open as parent, with everything in it;
 * a symlink inside is removed itself, never what it points to. 0 or negative errno. */
int agent_tree_remove(int parent, const char *name);

#endif
