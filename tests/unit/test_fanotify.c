/*
 * test_fanotify.c - the watcher backends' record parsers
 * (watch_backend.h) on canned records: names and keys, the directory
 * itself, the daemon's own events, overflow, records packed at 4-byte
 * alignment, and records cut short.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/watch_backend.h"

struct seen {
	GPtrArray *names;       /* "name/what/keylen", or "./..." */
	GPtrArray *keys;        /* GBytes */
	unsigned overflows, own;
};

static void on_event(void *data, GBytes *key, const char *name, unsigned what)
{
	struct seen *s = data;

	g_ptr_array_add(s->names, g_strdup_printf("%s/%u", name ? name : ".", what));
	g_ptr_array_add(s->keys, key);
}

static void on_overflow(void *data)
{
	((struct seen *)data)->overflows++;
}

static void on_own(void *data)
{
	((struct seen *)data)->own++;
}

static void seen_init(struct seen *s, struct watch_sink *sink)
{
	s->names = g_ptr_array_new_with_free_func(g_free);
	s->keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	s->overflows = s->own = 0;
	*sink = (struct watch_sink){ on_event, on_overflow, on_own, s };
}

static void seen_clear(struct seen *s)
{
	g_ptr_array_unref(s->names);
	g_ptr_array_unref(s->keys);
}

static const guint8 handle_bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const __kernel_fsid_t fsid = { { 0x1234, 0x5678 } };

/*
 * Appends one record as the kernel lays it out, padded to 4 bytes (as
 * FANOTIFY_EVENT_ALIGN), with a DFID_NAME info record unless name is NULL.
 */
static void add_record(GByteArray *buf, guint64 mask, pid_t pid, const char *name)
{
	struct fanotify_event_metadata m = {
		.vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = FAN_EVENT_METADATA_LEN,
		.mask = mask, .fd = FAN_NOFD, .pid = pid,
	};
	struct fanotify_event_info_fid fid = {
		.hdr = { .info_type = FAN_EVENT_INFO_TYPE_DFID_NAME },
		.fsid = fsid,
	};
	struct file_handle fh = { .handle_bytes = sizeof(handle_bytes),
				  .handle_type = 0x81 };
	GByteArray *info = g_byte_array_new();
	static const guint8 zeros[4];

	if (name) {
		g_byte_array_append(info, (const guint8 *)&fid,
				    offsetof(struct fanotify_event_info_fid, handle));
		g_byte_array_append(info, (const guint8 *)&fh, sizeof(fh));
		g_byte_array_append(info, handle_bytes, sizeof(handle_bytes));
		g_byte_array_append(info, (const guint8 *)name, strlen(name) + 1);
		g_byte_array_append(info, zeros, (4 - info->len % 4) % 4);
		((struct fanotify_event_info_header *)info->data)->len = info->len;
	}
	m.event_len = FAN_EVENT_METADATA_LEN + info->len;
	g_byte_array_append(buf, (const guint8 *)&m, FAN_EVENT_METADATA_LEN);
	g_byte_array_append(buf, info->data, info->len);
	g_byte_array_unref(info);
}

static void test_fanotify_records(void)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GBytes) want = watch_fanotify_key(&fsid, 0x81, handle_bytes,
						    sizeof(handle_bytes));
	struct watch_sink sink;
	struct seen s;
	g_autofree char *copy = NULL;

	add_record(buf, FAN_CREATE, 100, "new");
	add_record(buf, FAN_MODIFY, 100, "abcde");     /* odd length: padded */
	add_record(buf, FAN_ATTRIB | FAN_ONDIR, 100, ".");
	add_record(buf, FAN_DELETE, getpid(), "ours");
	add_record(buf, FAN_Q_OVERFLOW, 0, NULL);
	add_record(buf, FAN_MOVED_TO, 101, "moved");
	/* At an address that is 4-byte but not 8-byte aligned. */
	copy = g_malloc(buf->len + 4);
	memcpy(copy + 4, buf->data, buf->len);

	seen_init(&s, &sink);
	watch_fanotify.parse(copy + 4, buf->len, getpid(), &sink);
	g_assert_cmpuint(s.names->len, ==, 4);
	g_assert_cmpstr(s.names->pdata[0], ==, "new/1");
	g_assert_cmpstr(s.names->pdata[1], ==, "abcde/0");
	g_assert_cmpstr(s.names->pdata[2], ==, "./0");
	g_assert_cmpstr(s.names->pdata[3], ==, "moved/1");
	for (guint i = 0; i < s.keys->len; i++)
		g_assert_true(g_bytes_equal(s.keys->pdata[i], want));
	g_assert_cmpuint(s.own, ==, 1);
	g_assert_cmpuint(s.overflows, ==, 1);
	seen_clear(&s);
}

/* A buffer cut anywhere yields only the records that are whole. */
static void test_fanotify_truncated(void)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	size_t first;

	add_record(buf, FAN_CREATE, 100, "one");
	first = buf->len;
	add_record(buf, FAN_CREATE, 100, "two");
	for (size_t cut = 0; cut <= buf->len; cut++) {
		g_autofree char *copy = g_memdup2(buf->data, cut);
		struct watch_sink sink;
		struct seen s;

		seen_init(&s, &sink);
		watch_fanotify.parse(copy, cut, getpid(), &sink);
		g_assert_cmpuint(s.names->len, ==, cut < first ? 0 : cut < buf->len ? 1 : 2);
		seen_clear(&s);
	}
}

/* A record whose lengths lie is skipped, never read past. */
static void test_fanotify_bad_lengths(void)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct fanotify_event_metadata *m;
	struct watch_sink sink;
	struct seen s;

	add_record(buf, FAN_CREATE, 100, "one");
	m = (struct fanotify_event_metadata *)buf->data;
	m->event_len = 3;
	seen_init(&s, &sink);
	watch_fanotify.parse((const char *)buf->data, buf->len, getpid(), &sink);
	g_assert_cmpuint(s.names->len, ==, 0);
	seen_clear(&s);

	g_byte_array_set_size(buf, 0);
	add_record(buf, FAN_CREATE, 100, "one");
	/* The handle claims more bytes than the record holds. */
	((struct file_handle *)(buf->data + FAN_EVENT_METADATA_LEN +
		offsetof(struct fanotify_event_info_fid, handle)))->handle_bytes = 200;
	seen_init(&s, &sink);
	watch_fanotify.parse((const char *)buf->data, buf->len, getpid(), &sink);
	g_assert_cmpuint(s.names->len, ==, 0);
	seen_clear(&s);
}

static void test_inotify_records(void)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct inotify_event ev = { .wd = 7, .mask = IN_CREATE, .len = 16 };
	char name[16] = "created";
	struct watch_sink sink;
	struct seen s;
	int wd;

	g_byte_array_append(buf, (const guint8 *)&ev, sizeof(ev));
	g_byte_array_append(buf, (const guint8 *)name, sizeof(name));
	ev = (struct inotify_event){ .wd = 7, .mask = IN_ATTRIB };
	g_byte_array_append(buf, (const guint8 *)&ev, sizeof(ev));
	ev = (struct inotify_event){ .wd = -1, .mask = IN_Q_OVERFLOW };
	g_byte_array_append(buf, (const guint8 *)&ev, sizeof(ev));
	seen_init(&s, &sink);
	/* The last record cut short is not read. */
	watch_inotify.parse((const char *)buf->data, buf->len - 1, getpid(), &sink);
	g_assert_cmpuint(s.names->len, ==, 2);
	g_assert_cmpstr(s.names->pdata[0], ==, "created/1");
	g_assert_cmpstr(s.names->pdata[1], ==, "./0");
	memcpy(&wd, g_bytes_get_data(s.keys->pdata[0], NULL), sizeof(wd));
	g_assert_cmpint(wd, ==, 7);
	g_assert_cmpuint(s.overflows, ==, 0);
	seen_clear(&s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/watch/fanotify-records", test_fanotify_records);
	g_test_add_func("/watch/fanotify-truncated", test_fanotify_truncated);
	g_test_add_func("/watch/fanotify-bad-lengths", test_fanotify_bad_lengths);
	g_test_add_func("/watch/inotify-records", test_inotify_records);
	return g_test_run();
}
