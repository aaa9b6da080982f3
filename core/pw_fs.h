/*
 * pw_fs: the few file-system chores Pitwall needs (making a data
 * directory, removing a scratch tree).
 */
#ifndef PW_FS_H
#define PW_FS_H

/* Make dir and any missing parents (mode 0755). Returns 0 or -errno. */
int pw_fs_mkdir_p(const char *dir);

/* Remove dir and everything under it, not following symlinks.
 * Returns 0 (also when dir does not exist) or -errno. */
int pw_fs_remove_tree(const char *dir);

#endif
