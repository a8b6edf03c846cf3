/*
 * fstype.c - see include/mmapfs/fstype.h.
 */
#include <linux/magic.h>
#include <stddef.h>
#include <sys/vfs.h>

#include <glib.h>

#include "mmapfs/fstype.h"

/* Not in <linux/magic.h>: out-of-tree filesystems, and GFS2's (its own
 * <linux/gfs2_ondisk.h>). */
#define GFS2_MAGIC        0x01161970
#define LUSTRE_SUPER_MAGIC 0x0bd00bd0
#define GPFS_SUPER_MAGIC  0x47504653
#define ORANGEFS_SUPER_MAGIC 0x19830326
#define VBOXSF_SUPER_MAGIC 0x786f4256

static const struct {
	unsigned long magic;
	const char *name;
} blind_filesystems[] = {
	{ NFS_SUPER_MAGIC, "nfs" },
	{ SMB_SUPER_MAGIC, "smb" },
	{ SMB2_SUPER_MAGIC, "smb2" },
	{ CIFS_SUPER_MAGIC, "cifs" },
	{ FUSE_SUPER_MAGIC, "fuse" },
	{ CEPH_SUPER_MAGIC, "ceph" },
	{ V9FS_MAGIC, "9p" },
	{ AFS_SUPER_MAGIC, "afs" },
	{ AFS_FS_MAGIC, "afs" },
	{ CODA_SUPER_MAGIC, "coda" },
	{ GFS2_MAGIC, "gfs2" },
	{ OCFS2_SUPER_MAGIC, "ocfs2" },
	{ LUSTRE_SUPER_MAGIC, "lustre" },
	{ GPFS_SUPER_MAGIC, "gpfs" },
	{ ORANGEFS_SUPER_MAGIC, "orangefs" },
	{ VBOXSF_SUPER_MAGIC, "vboxsf" },
};

const char *fstype_blind_name(long f_type)
{
	/* f_type is a signed word: magic numbers with the top bit set
	 * (cifs) compare as the unsigned 32-bit values they are. */
	unsigned long t = (unsigned long)f_type & 0xffffffffUL;

	for (size_t i = 0; i < G_N_ELEMENTS(blind_filesystems); i++)
		if (t == blind_filesystems[i].magic)
			return blind_filesystems[i].name;
	return NULL;
}

const char *fstype_blind(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) < 0 ? NULL : fstype_blind_name((long)sf.f_type);
}

bool fstype_is_fuse_type(long f_type)
{
	return ((unsigned long)f_type & 0xffffffffUL) == FUSE_SUPER_MAGIC;
}

bool fstype_is_fuse(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && fstype_is_fuse_type((long)sf.f_type);
}
