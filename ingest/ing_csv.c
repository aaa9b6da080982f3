#include "ingest/ing_csv.h"

#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"

/* 128-bit products for Eisel-Lemire (GCC and Clang have them on 64-bit). */
__extension__ typedef unsigned __int128 csv_u128;

void ing_csv_init(ing_csv_t *c, const uint8_t *data, size_t len, char sep)
{
    c->data = (const char *)data;
    c->len = data ? len : 0;
    c->pos = 0;
    c->line = 0;
    c->sep = sep;
    if (c->len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        c->pos = 3;
}

/* Move past the end of the current line (after a malformed field). */
static void skip_line(ing_csv_t *c, const char *p)
{
    const char *end = c->data + c->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl) {
        c->line++;
        c->pos = (size_t)(nl + 1 - c->data);
    } else {
        c->pos = c->len;
    }
}

/*
 * The end of an unquoted field: the first sep or LF at or after p, or end.
 * Eight bytes at a time where there are eight to read (a zero byte of
 * w ^ mask marks a match; the lowest flagged byte is always a true one).
 */
static const char *scan_field(const char *p, const char *end, char sep)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const uint64_t msep = ones * (uint8_t)sep, mnl = ones * (uint8_t)'\n';
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        uint64_t a = w ^ msep, b = w ^ mnl;
        uint64_t z = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
        if (z)
            return p + __builtin_ctzll(z) / 8;
        p += 8;
    }
#endif
    while (p < end && *p != sep && *p != '\n')
        p++;
    return p;
}

int ing_csv_next(ing_csv_t *c, ing_csv_field_t *f, size_t max, ing_csv_row_t *row)
{
    const char *d = c->data, *end = d + c->len, *p = d + c->pos;
    const char sep = c->sep;

    /* Blank lines (LF, CRLF, a stray CR before the end) are not rows. */
    for (;;) {
        if (p == end) {
            c->pos = c->len;
            return 0;
        }
        if (*p == '\n') {
            p++;
            c->line++;
        } else if (*p == '\r' && (p + 1 == end || p[1] == '\n')) {
            p++;
        } else {
            break;
        }
    }
    row->line = c->line + 1;
    row->offset = (size_t)(p - d);
    row->unterminated = 0;
    row->nfields = 0;

    size_t n = 0;
    for (;;) {
        const char *s;
        size_t flen;
        uint32_t flags = 0;
        if (p < end && *p == '"') {
            flags = ING_CSV_QUOTED;
            s = ++p;
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (q == NULL) {
                    c->pos = c->len;
                    row->nfields = n;
                    return PW_ETRUNC;
                }
                for (const char *r = p; (r = memchr(r, '\n', (size_t)(q - r))) != NULL; r++)
                    c->line++;
                if (q + 1 < end && q[1] == '"') {
                    flags |= ING_CSV_ESCAPED;
                    p = q + 2;
                    continue;
                }
                flen = (size_t)(q - s);
                p = q + 1;
                break;
            }
            if (p < end && *p == '\r' && (p + 1 == end || p[1] == '\n'))
                p++;
            if (p < end && *p != sep && *p != '\n') {
                row->nfields = n;
                skip_line(c, p);
                return PW_ECORRUPT;
            }
        } else {
            s = p;
            p = scan_field(p, end, sep);
            flen = (size_t)(p - s);
            if (flen && s[flen - 1] == '\r' && (p == end || *p == '\n'))
                flen--;
        }
        if (flen > UINT32_MAX) {
            row->nfields = n;
            skip_line(c, p);
            return PW_ECORRUPT;
        }
        if (n < max) {
            f[n].p = s;
            f[n].len = (uint32_t)flen;
            f[n].flags = flags;
        }
        n++;
        if (p == end) {
            row->unterminated = 1;
            c->pos = c->len;
            break;
        }
        if (*p == '\n') {
            c->line++;
            c->pos = (size_t)(p + 1 - d);
            break;
        }
        p++; /* the separator; a field (maybe empty) follows */
    }
    row->nfields = n;
    return 1;
}

int ing_csv_eq(const ing_csv_field_t *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && memcmp(f->p, s, n) == 0;
}

int ing_csv_find(const ing_csv_field_t *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n && i < (size_t)INT32_MAX; i++)
        if (ing_csv_eq(&f[i], name))
            return (int)i;
    return -1;
}

size_t ing_csv_unescape(const ing_csv_field_t *f, char *buf, size_t cap)
{
    size_t o = 0;
    for (uint32_t i = 0; i < f->len; i++) {
        if ((f->flags & ING_CSV_ESCAPED) && f->p[i] == '"' && i + 1 < f->len &&
            f->p[i + 1] == '"')
            i++;
        if (cap && o < cap - 1)
            buf[o] = f->p[i];
        o++;
    }
    if (cap)
        buf[o < cap - 1 ? o : cap - 1] = '\0';
    return o;
}

int ing_csv_parse_i64(const char *p, size_t len, int64_t *out)
{
    const char *end = p + len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == end)
        return -1;
    uint64_t v = 0;
    if (end - p <= 18) { /* cannot overflow: no check per digit */
        for (; p < end; p++) {
            unsigned dg = (unsigned)(unsigned char)*p - '0';
            if (dg > 9)
                return -1;
            v = v * 10 + dg;
        }
        *out = neg ? -(int64_t)v : (int64_t)v;
        return 0;
    }
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < end; p++) {
        unsigned dg = (unsigned)(unsigned char)*p - '0';
        if (dg > 9 || v > (lim - dg) / 10)
            return -1;
        v = v * 10 + dg;
    }
    *out = !neg ? (int64_t)v : v ? -(int64_t)(v - 1) - 1 : 0;
    return 0;
}

uint64_t ing_csv_hash53(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3u;
    }
    return h & ((UINT64_C(1) << 53) - 1);
}

/*
 * Powers of ten for Eisel-Lemire: for 10^q, q in [CSV_POW_LO, CSV_POW_HI],
 * the 128 most significant bits of its binary mantissa ({high, low} 64-bit
 * halves), rounded as in Lemire's "Number Parsing at a Gigabyte per
 * Second" (truncated for q >= 0; for -27 <= q < 0 floor(2^b / 5^-q) + 1
 * with b giving 128 bits; below, that value truncated). Generated with
 * exact integer arithmetic.
 */
#define CSV_POW_LO (-80)
#define CSV_POW_HI 80
static const uint64_t csv_pow10[CSV_POW_HI - CSV_POW_LO + 1][2] = {
    {0x97c560ba6b0919a5u, 0xdccd879fc967d41au}, /* 1e-80 */
    {0xbdb6b8e905cb600fu, 0x5400e987bbc1c920u}, /* 1e-79 */
    {0xed246723473e3813u, 0x290123e9aab23b68u}, /* 1e-78 */
    {0x9436c0760c86e30bu, 0xf9a0b6720aaf6521u}, /* 1e-77 */
    {0xb94470938fa89bceu, 0xf808e40e8d5b3e69u}, /* 1e-76 */
    {0xe7958cb87392c2c2u, 0xb60b1d1230b20e04u}, /* 1e-75 */
    {0x90bd77f3483bb9b9u, 0xb1c6f22b5e6f48c2u}, /* 1e-74 */
    {0xb4ecd5f01a4aa828u, 0x1e38aeb6360b1af3u}, /* 1e-73 */
    {0xe2280b6c20dd5232u, 0x25c6da63c38de1b0u}, /* 1e-72 */
    {0x8d590723948a535fu, 0x579c487e5a38ad0eu}, /* 1e-71 */
    {0xb0af48ec79ace837u, 0x2d835a9df0c6d851u}, /* 1e-70 */
    {0xdcdb1b2798182244u, 0xf8e431456cf88e65u}, /* 1e-69 */
    {0x8a08f0f8bf0f156bu, 0x1b8e9ecb641b58ffu}, /* 1e-68 */
    {0xac8b2d36eed2dac5u, 0xe272467e3d222f3fu}, /* 1e-67 */
    {0xd7adf884aa879177u, 0x5b0ed81dcc6abb0fu}, /* 1e-66 */
    {0x86ccbb52ea94baeau, 0x98e947129fc2b4e9u}, /* 1e-65 */
    {0xa87fea27a539e9a5u, 0x3f2398d747b36224u}, /* 1e-64 */
    {0xd29fe4b18e88640eu, 0x8eec7f0d19a03aadu}, /* 1e-63 */
    {0x83a3eeeef9153e89u, 0x1953cf68300424acu}, /* 1e-62 */
    {0xa48ceaaab75a8e2bu, 0x5fa8c3423c052dd7u}, /* 1e-61 */
    {0xcdb02555653131b6u, 0x3792f412cb06794du}, /* 1e-60 */
    {0x808e17555f3ebf11u, 0xe2bbd88bbee40bd0u}, /* 1e-59 */
    {0xa0b19d2ab70e6ed6u, 0x5b6aceaeae9d0ec4u}, /* 1e-58 */
    {0xc8de047564d20a8bu, 0xf245825a5a445275u}, /* 1e-57 */
    {0xfb158592be068d2eu, 0xeed6e2f0f0d56712u}, /* 1e-56 */
    {0x9ced737bb6c4183du, 0x55464dd69685606bu}, /* 1e-55 */
    {0xc428d05aa4751e4cu, 0xaa97e14c3c26b886u}, /* 1e-54 */
    {0xf53304714d9265dfu, 0xd53dd99f4b3066a8u}, /* 1e-53 */
    {0x993fe2c6d07b7fabu, 0xe546a8038efe4029u}, /* 1e-52 */
    {0xbf8fdb78849a5f96u, 0xde98520472bdd033u}, /* 1e-51 */
    {0xef73d256a5c0f77cu, 0x963e66858f6d4440u}, /* 1e-50 */
    {0x95a8637627989aadu, 0xdde7001379a44aa8u}, /* 1e-49 */
    {0xbb127c53b17ec159u, 0x5560c018580d5d52u}, /* 1e-48 */
    {0xe9d71b689dde71afu, 0xaab8f01e6e10b4a6u}, /* 1e-47 */
    {0x9226712162ab070du, 0xcab3961304ca70e8u}, /* 1e-46 */
    {0xb6b00d69bb55c8d1u, 0x3d607b97c5fd0d22u}, /* 1e-45 */
    {0xe45c10c42a2b3b05u, 0x8cb89a7db77c506au}, /* 1e-44 */
    {0x8eb98a7a9a5b04e3u, 0x77f3608e92adb242u}, /* 1e-43 */
    {0xb267ed1940f1c61cu, 0x55f038b237591ed3u}, /* 1e-42 */
    {0xdf01e85f912e37a3u, 0x6b6c46dec52f6688u}, /* 1e-41 */
    {0x8b61313bbabce2c6u, 0x2323ac4b3b3da015u}, /* 1e-40 */
    {0xae397d8aa96c1b77u, 0xabec975e0a0d081au}, /* 1e-39 */
    {0xd9c7dced53c72255u, 0x96e7bd358c904a21u}, /* 1e-38 */
    {0x881cea14545c7575u, 0x7e50d64177da2e54u}, /* 1e-37 */
    {0xaa242499697392d2u, 0xdde50bd1d5d0b9e9u}, /* 1e-36 */
    {0xd4ad2dbfc3d07787u, 0x955e4ec64b44e864u}, /* 1e-35 */
    {0x84ec3c97da624ab4u, 0xbd5af13bef0b113eu}, /* 1e-34 */
    {0xa6274bbdd0fadd61u, 0xecb1ad8aeacdd58eu}, /* 1e-33 */
    {0xcfb11ead453994bau, 0x67de18eda5814af2u}, /* 1e-32 */
    {0x81ceb32c4b43fcf4u, 0x80eacf948770ced7u}, /* 1e-31 */
    {0xa2425ff75e14fc31u, 0xa1258379a94d028du}, /* 1e-30 */
    {0xcad2f7f5359a3b3eu, 0x096ee45813a04330u}, /* 1e-29 */
    {0xfd87b5f28300ca0du, 0x8bca9d6e188853fcu}, /* 1e-28 */
    {0x9e74d1b791e07e48u, 0x775ea264cf55347eu}, /* 1e-27 */
    {0xc612062576589ddau, 0x95364afe032a819eu}, /* 1e-26 */
    {0xf79687aed3eec551u, 0x3a83ddbd83f52205u}, /* 1e-25 */
    {0x9abe14cd44753b52u, 0xc4926a9672793543u}, /* 1e-24 */
    {0xc16d9a0095928a27u, 0x75b7053c0f178294u}, /* 1e-23 */
    {0xf1c90080baf72cb1u, 0x5324c68b12dd6339u}, /* 1e-22 */
    {0x971da05074da7beeu, 0xd3f6fc16ebca5e04u}, /* 1e-21 */
    {0xbce5086492111aeau, 0x88f4bb1ca6bcf585u}, /* 1e-20 */
    {0xec1e4a7db69561a5u, 0x2b31e9e3d06c32e6u}, /* 1e-19 */
    {0x9392ee8e921d5d07u, 0x3aff322e62439fd0u}, /* 1e-18 */
    {0xb877aa3236a4b449u, 0x09befeb9fad487c3u}, /* 1e-17 */
    {0xe69594bec44de15bu, 0x4c2ebe687989a9b4u}, /* 1e-16 */
    {0x901d7cf73ab0acd9u, 0x0f9d37014bf60a11u}, /* 1e-15 */
    {0xb424dc35095cd80fu, 0x538484c19ef38c95u}, /* 1e-14 */
    {0xe12e13424bb40e13u, 0x2865a5f206b06fbau}, /* 1e-13 */
    {0x8cbccc096f5088cbu, 0xf93f87b7442e45d4u}, /* 1e-12 */
    {0xafebff0bcb24aafeu, 0xf78f69a51539d749u}, /* 1e-11 */
    {0xdbe6fecebdedd5beu, 0xb573440e5a884d1cu}, /* 1e-10 */
    {0x89705f4136b4a597u, 0x31680a88f8953031u}, /* 1e-9 */
    {0xabcc77118461cefcu, 0xfdc20d2b36ba7c3eu}, /* 1e-8 */
    {0xd6bf94d5e57a42bcu, 0x3d32907604691b4du}, /* 1e-7 */
    {0x8637bd05af6c69b5u, 0xa63f9a49c2c1b110u}, /* 1e-6 */
    {0xa7c5ac471b478423u, 0x0fcf80dc33721d54u}, /* 1e-5 */
    {0xd1b71758e219652bu, 0xd3c36113404ea4a9u}, /* 1e-4 */
    {0x83126e978d4fdf3bu, 0x645a1cac083126eau}, /* 1e-3 */
    {0xa3d70a3d70a3d70au, 0x3d70a3d70a3d70a4u}, /* 1e-2 */
    {0xccccccccccccccccu, 0xcccccccccccccccdu}, /* 1e-1 */
    {0x8000000000000000u, 0x0000000000000000u}, /* 1e0 */
    {0xa000000000000000u, 0x0000000000000000u}, /* 1e1 */
    {0xc800000000000000u, 0x0000000000000000u}, /* 1e2 */
    {0xfa00000000000000u, 0x0000000000000000u}, /* 1e3 */
    {0x9c40000000000000u, 0x0000000000000000u}, /* 1e4 */
    {0xc350000000000000u, 0x0000000000000000u}, /* 1e5 */
    {0xf424000000000000u, 0x0000000000000000u}, /* 1e6 */
    {0x9896800000000000u, 0x0000000000000000u}, /* 1e7 */
    {0xbebc200000000000u, 0x0000000000000000u}, /* 1e8 */
    {0xee6b280000000000u, 0x0000000000000000u}, /* 1e9 */
    {0x9502f90000000000u, 0x0000000000000000u}, /* 1e10 */
    {0xba43b74000000000u, 0x0000000000000000u}, /* 1e11 */
    {0xe8d4a51000000000u, 0x0000000000000000u}, /* 1e12 */
    {0x9184e72a00000000u, 0x0000000000000000u}, /* 1e13 */
    {0xb5e620f480000000u, 0x0000000000000000u}, /* 1e14 */
    {0xe35fa931a0000000u, 0x0000000000000000u}, /* 1e15 */
    {0x8e1bc9bf04000000u, 0x0000000000000000u}, /* 1e16 */
    {0xb1a2bc2ec5000000u, 0x0000000000000000u}, /* 1e17 */
    {0xde0b6b3a76400000u, 0x0000000000000000u}, /* 1e18 */
    {0x8ac7230489e80000u, 0x0000000000000000u}, /* 1e19 */
    {0xad78ebc5ac620000u, 0x0000000000000000u}, /* 1e20 */
    {0xd8d726b7177a8000u, 0x0000000000000000u}, /* 1e21 */
    {0x878678326eac9000u, 0x0000000000000000u}, /* 1e22 */
    {0xa968163f0a57b400u, 0x0000000000000000u}, /* 1e23 */
    {0xd3c21bcecceda100u, 0x0000000000000000u}, /* 1e24 */
    {0x84595161401484a0u, 0x0000000000000000u}, /* 1e25 */
    {0xa56fa5b99019a5c8u, 0x0000000000000000u}, /* 1e26 */
    {0xcecb8f27f4200f3au, 0x0000000000000000u}, /* 1e27 */
    {0x813f3978f8940984u, 0x4000000000000000u}, /* 1e28 */
    {0xa18f07d736b90be5u, 0x5000000000000000u}, /* 1e29 */
    {0xc9f2c9cd04674edeu, 0xa400000000000000u}, /* 1e30 */
    {0xfc6f7c4045812296u, 0x4d00000000000000u}, /* 1e31 */
    {0x9dc5ada82b70b59du, 0xf020000000000000u}, /* 1e32 */
    {0xc5371912364ce305u, 0x6c28000000000000u}, /* 1e33 */
    {0xf684df56c3e01bc6u, 0xc732000000000000u}, /* 1e34 */
    {0x9a130b963a6c115cu, 0x3c7f400000000000u}, /* 1e35 */
    {0xc097ce7bc90715b3u, 0x4b9f100000000000u}, /* 1e36 */
    {0xf0bdc21abb48db20u, 0x1e86d40000000000u}, /* 1e37 */
    {0x96769950b50d88f4u, 0x1314448000000000u}, /* 1e38 */
    {0xbc143fa4e250eb31u, 0x17d955a000000000u}, /* 1e39 */
    {0xeb194f8e1ae525fdu, 0x5dcfab0800000000u}, /* 1e40 */
    {0x92efd1b8d0cf37beu, 0x5aa1cae500000000u}, /* 1e41 */
    {0xb7abc627050305adu, 0xf14a3d9e40000000u}, /* 1e42 */
    {0xe596b7b0c643c719u, 0x6d9ccd05d0000000u}, /* 1e43 */
    {0x8f7e32ce7bea5c6fu, 0xe4820023a2000000u}, /* 1e44 */
    {0xb35dbf821ae4f38bu, 0xdda2802c8a800000u}, /* 1e45 */
    {0xe0352f62a19e306eu, 0xd50b2037ad200000u}, /* 1e46 */
    {0x8c213d9da502de45u, 0x4526f422cc340000u}, /* 1e47 */
    {0xaf298d050e4395d6u, 0x9670b12b7f410000u}, /* 1e48 */
    {0xdaf3f04651d47b4cu, 0x3c0cdd765f114000u}, /* 1e49 */
    {0x88d8762bf324cd0fu, 0xa5880a69fb6ac800u}, /* 1e50 */
    {0xab0e93b6efee0053u, 0x8eea0d047a457a00u}, /* 1e51 */
    {0xd5d238a4abe98068u, 0x72a4904598d6d880u}, /* 1e52 */
    {0x85a36366eb71f041u, 0x47a6da2b7f864750u}, /* 1e53 */
    {0xa70c3c40a64e6c51u, 0x999090b65f67d924u}, /* 1e54 */
    {0xd0cf4b50cfe20765u, 0xfff4b4e3f741cf6du}, /* 1e55 */
    {0x82818f1281ed449fu, 0xbff8f10e7a8921a4u}, /* 1e56 */
    {0xa321f2d7226895c7u, 0xaff72d52192b6a0du}, /* 1e57 */
    {0xcbea6f8ceb02bb39u, 0x9bf4f8a69f764490u}, /* 1e58 */
    {0xfee50b7025c36a08u, 0x02f236d04753d5b4u}, /* 1e59 */
    {0x9f4f2726179a2245u, 0x01d762422c946590u}, /* 1e60 */
    {0xc722f0ef9d80aad6u, 0x424d3ad2b7b97ef5u}, /* 1e61 */
    {0xf8ebad2b84e0d58bu, 0xd2e0898765a7deb2u}, /* 1e62 */
    {0x9b934c3b330c8577u, 0x63cc55f49f88eb2fu}, /* 1e63 */
    {0xc2781f49ffcfa6d5u, 0x3cbf6b71c76b25fbu}, /* 1e64 */
    {0xf316271c7fc3908au, 0x8bef464e3945ef7au}, /* 1e65 */
    {0x97edd871cfda3a56u, 0x97758bf0e3cbb5acu}, /* 1e66 */
    {0xbde94e8e43d0c8ecu, 0x3d52eeed1cbea317u}, /* 1e67 */
    {0xed63a231d4c4fb27u, 0x4ca7aaa863ee4bddu}, /* 1e68 */
    {0x945e455f24fb1cf8u, 0x8fe8caa93e74ef6au}, /* 1e69 */
    {0xb975d6b6ee39e436u, 0xb3e2fd538e122b44u}, /* 1e70 */
    {0xe7d34c64a9c85d44u, 0x60dbbca87196b616u}, /* 1e71 */
    {0x90e40fbeea1d3a4au, 0xbc8955e946fe31cdu}, /* 1e72 */
    {0xb51d13aea4a488ddu, 0x6babab6398bdbe41u}, /* 1e73 */
    {0xe264589a4dcdab14u, 0xc696963c7eed2dd1u}, /* 1e74 */
    {0x8d7eb76070a08aecu, 0xfc1e1de5cf543ca2u}, /* 1e75 */
    {0xb0de65388cc8ada8u, 0x3b25a55f43294bcbu}, /* 1e76 */
    {0xdd15fe86affad912u, 0x49ef0eb713f39ebeu}, /* 1e77 */
    {0x8a2dbf142dfcc7abu, 0x6e3569326c784337u}, /* 1e78 */
    {0xacb92ed9397bf996u, 0x49c2c37f07965404u}, /* 1e79 */
    {0xd7e77a8f87daf7fbu, 0xdc33745ec97be906u}, /* 1e80 */
};

/* Exact powers of ten as doubles, for Clinger's fast path. */
static const double csv_exact10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * Eisel-Lemire: man * 10^e10 (man != 0) correctly rounded to a double.
 * Returns 1 with *out set, or 0 when it cannot decide (tie within the
 * approximation, subnormal, overflow, e10 out of the table): the caller
 * falls back to strtod(). After Nigel Tao's description of the algorithm
 * (https://nigeltao.github.io/blog/2020/eisel-lemire.html).
 */
static int eisel_lemire(uint64_t man, int e10, int neg, double *out)
{
    if (e10 < CSV_POW_LO || e10 > CSV_POW_HI)
        return 0;
    int clz = __builtin_clzll(man);
    man <<= clz;
    /* floor(e10 * log2(10)) as (217706 * e10) >> 16, with a bias of 1024
     * so the shift never sees a negative number. */
    int64_t lg = ((217706 * (int64_t)e10 + 65536 * 1024) >> 16) - 1024;
    uint64_t exp2 = (uint64_t)(lg + 64 + 1023) - (uint64_t)clz;
    const uint64_t *pw = csv_pow10[e10 - CSV_POW_LO];
    csv_u128 x = (csv_u128)man * pw[0];
    uint64_t xhi = (uint64_t)(x >> 64), xlo = (uint64_t)x;
    if ((xhi & 0x1FF) == 0x1FF && xlo + man < man) {
        /* The low bits may carry: widen with the table's low half. */
        csv_u128 y = (csv_u128)man * pw[1];
        uint64_t yhi = (uint64_t)(y >> 64), ylo = (uint64_t)y;
        uint64_t mhi = xhi, mlo = xlo + yhi;
        if (mlo < xlo)
            mhi++;
        if ((mhi & 0x1FF) == 0x1FF && mlo + 1 == 0 && ylo + man < man)
            return 0;
        xhi = mhi;
        xlo = mlo;
    }
    uint64_t msb = xhi >> 63;
    uint64_t m = xhi >> (msb + 9);
    exp2 -= 1 ^ msb;
    if (xlo == 0 && (xhi & 0x1FF) == 0 && (m & 3) == 1)
        return 0; /* exactly half-way: cannot tell which way to round */
    m += m & 1;
    m >>= 1;
    if (m >> 53) {
        m >>= 1;
        exp2++;
    }
    if (exp2 - 1 >= 0x7FF - 1)
        return 0; /* subnormal, zero or infinite */
    uint64_t bits = exp2 << 52 | (m & ((UINT64_C(1) << 52) - 1));
    if (neg)
        bits |= UINT64_C(1) << 63;
    memcpy(out, &bits, sizeof *out);
    return 1;
}

/* Case-insensitive match of p[0..len) with the lower-case word w. */
static int word_eq(const char *p, size_t len, const char *w)
{
    size_t n = strlen(w);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != w[i])
            return 0;
    return 1;
}

/* Longest number handed to strtod(); longer ones are refused. */
#define CSV_NUM_MAX 320

int ing_csv_parse_double(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    uint64_t w = 0;
    int nd = 0;      /* significant digits kept in w (at most 19) */
    int64_t e10 = 0; /* value = w * 10^e10 (before dropped digits) */
    int dropped = 0; /* a non-zero digit did not fit in w */
    const char *ds = p;
    for (; p < end; p++) {
        unsigned dg = (unsigned)(unsigned char)*p - '0';
        if (dg > 9)
            break;
        if (nd < 19) {
            w = w * 10 + dg;
            nd += w != 0;
        } else {
            e10++;
            dropped |= dg != 0;
        }
    }
    int digits = p > ds;
    if (p < end && *p == '.') {
        const char *fs = ++p;
        for (; p < end; p++) {
            unsigned dg = (unsigned)(unsigned char)*p - '0';
            if (dg > 9)
                break;
            if (nd < 19) {
                w = w * 10 + dg;
                nd += w != 0;
                e10--;
            } else {
                dropped |= dg != 0;
            }
        }
        digits |= p > fs;
    }
    if (!digits) {
        size_t rest = (size_t)(end - ds);
        if (p != ds)
            return -1; /* a lone "." */
        if (word_eq(ds, rest, "nan")) {
            *out = neg ? -__builtin_nan("") : __builtin_nan("");
            return 0;
        }
        if (word_eq(ds, rest, "inf") || word_eq(ds, rest, "infinity")) {
            *out = neg ? -__builtin_inf() : __builtin_inf();
            return 0;
        }
        return -1;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        int eneg = 0;
        if (p < end && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        const char *es = p;
        int64_t ev = 0;
        for (; p < end; p++) {
            unsigned dg = (unsigned)(unsigned char)*p - '0';
            if (dg > 9)
                break;
            if (ev < 100000000)
                ev = ev * 10 + dg;
        }
        if (p == es)
            return -1;
        e10 += eneg ? -ev : ev;
    }
    if (p != end)
        return -1;
    if (w == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (!dropped && w <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)w;
        v = e10 < 0 ? v / csv_exact10[-e10] : v * csv_exact10[e10];
        *out = neg ? -v : v;
        return 0;
    }
    if (e10 >= CSV_POW_LO && e10 <= CSV_POW_HI) {
        double a, b;
        if (eisel_lemire(w, (int)e10, neg, &a)) {
            /* With digits dropped the value lies in (w, w + 1) * 10^e10:
             * both ends must round to the same double. */
            if (!dropped || (w + 1 != 0 && eisel_lemire(w + 1, (int)e10, neg, &b) && a == b)) {
                *out = a;
                return 0;
            }
        }
    }
    char buf[CSV_NUM_MAX + 1];
    if (len > CSV_NUM_MAX)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}
