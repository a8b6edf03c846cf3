/*
 * oplist.h - the one list of the FUSE operations mmapfs serves.
 *
 * Each operation is written once here, and every form it takes is made
 * from this list: its statistics counter and name (stats.h), its handler's
 * prototype (ops.h), the wrapper that times it and the fuse_lowlevel_ops
 * entry that points at the wrapper (ops.c).  libfuse binds opcode, handler
 * and name in one table the same way.
 *
 * MMAPFS_OPS(OP, ALSO) expands, for each operation,
 *   OP(COUNTER, "name", handler, (parameters), (arguments))
 * and, for a handler counted under another operation's counter,
 *   ALSO(COUNTER, handler, (parameters), (arguments))
 * COUNTER names the statistics counter (STATS_COUNTER); handler is both the
 * fuse_lowlevel_ops field and the handler's name, mmapfs_op_<handler>.
 * The handlers live in src/ops_meta.c (lookup to statfs), ops_dir.c
 * (directories), ops_names.c (mknod to rename), ops_file.c (open to lseek)
 * and ops_xattr.c; ioctl (the control protocol, ctl.h) in ops_ctl.c.
 *
 * The parameters name FUSE types, but nothing here includes a FUSE header:
 * the core expands only the counters and names (stats.h).
 */
#ifndef MMAPFS_OPLIST_H
#define MMAPFS_OPLIST_H

#define MMAPFS_OPS(OP, ALSO) \
	OP(LOOKUP, "lookup", lookup, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name)) \
	OP(FORGET, "forget", forget, \
	   (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup), (req, ino, nlookup)) \
	ALSO(FORGET, forget_multi, \
	     (fuse_req_t req, size_t count, struct fuse_forget_data *forgets), \
	     (req, count, forgets)) \
	OP(GETATTR, "getattr", getattr, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(SETATTR, "setattr", setattr, \
	   (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, \
	    struct fuse_file_info *fi), (req, ino, attr, to_set, fi)) \
	OP(READLINK, "readlink", readlink, (fuse_req_t req, fuse_ino_t ino), (req, ino)) \
	OP(ACCESS, "access", access, \
	   (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask)) \
	OP(STATFS, "statfs", statfs, (fuse_req_t req, fuse_ino_t ino), (req, ino)) \
	OP(OPENDIR, "opendir", opendir, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(READDIR, "readdir", readdir, \
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, \
	    struct fuse_file_info *fi), (req, ino, size, off, fi)) \
	OP(READDIRPLUS, "readdirplus", readdirplus, \
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, \
	    struct fuse_file_info *fi), (req, ino, size, off, fi)) \
	OP(FSYNCDIR, "fsyncdir", fsyncdir, \
	   (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi), \
	   (req, ino, datasync, fi)) \
	OP(RELEASEDIR, "releasedir", releasedir, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(MKNOD, "mknod", mknod, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, \
	    dev_t rdev), (req, parent, name, mode, rdev)) \
	OP(MKDIR, "mkdir", mkdir, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode), \
	   (req, parent, name, mode)) \
	OP(SYMLINK, "symlink", symlink, \
	   (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name), \
	   (req, link, parent, name)) \
	OP(LINK, "link", link, \
	   (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname), \
	   (req, ino, newparent, newname)) \
	OP(UNLINK, "unlink", unlink, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name)) \
	OP(RMDIR, "rmdir", rmdir, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name)) \
	OP(RENAME, "rename", rename, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, \
	    const char *newname, unsigned int flags), \
	   (req, parent, name, newparent, newname, flags)) \
	OP(OPEN, "open", open, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(CREATE, "create", create, \
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, \
	    struct fuse_file_info *fi), (req, parent, name, mode, fi)) \
	OP(RELEASE, "release", release, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(FLUSH, "flush", flush, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi)) \
	OP(FSYNC, "fsync", fsync, \
	   (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi), \
	   (req, ino, datasync, fi)) \
	OP(READ, "read", read, \
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, \
	    struct fuse_file_info *fi), (req, ino, size, off, fi)) \
	OP(WRITE, "write", write_buf, \
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off, \
	    struct fuse_file_info *fi), (req, ino, in, off, fi)) \
	OP(FALLOCATE, "fallocate", fallocate, \
	   (fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, \
	    struct fuse_file_info *fi), (req, ino, mode, offset, length, fi)) \
	OP(COPY_FILE_RANGE, "copy_file_range", copy_file_range, \
	   (fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in, \
	    fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, \
	    size_t len, int flags), \
	   (req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags)) \
	OP(LSEEK, "lseek", lseek, \
	   (fuse_req_t req, fuse_ino_t ino, off_t off, int whence, \
	    struct fuse_file_info *fi), (req, ino, off, whence, fi)) \
	OP(GETXATTR, "getxattr", getxattr, \
	   (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size), \
	   (req, ino, name, size)) \
	OP(LISTXATTR, "listxattr", listxattr, \
	   (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size)) \
	OP(SETXATTR, "setxattr", setxattr, \
	   (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, \
	    size_t size, int flags), (req, ino, name, value, size, flags)) \
	OP(REMOVEXATTR, "removexattr", removexattr, \
	   (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name)) \
	OP(IOCTL, "ioctl", ioctl, \
	   (fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, \
	    struct fuse_file_info *fi, unsigned flags, const void *in_buf, \
	    size_t in_bufsz, size_t out_bufsz), \
	   (req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz))

#endif
