/* invites-web: optional enhancements; every page works without them. */
(function ($) {
	"use strict";
	$(function () {
		var $copy = $("#copy-link");
		if ($copy.length && navigator.clipboard) {
			$copy.removeClass("d-none").on("click", function () {
				navigator.clipboard.writeText($copy.data("link")).then(function () {
					$copy.text("Link copied");
				});
			});
		}
		var $p1 = $("#password"), $p2 = $("#password2");
		if ($p1.length && $p2.length) {
			var check = function () {
				$p2[0].setCustomValidity($p1.val() === $p2.val() ? "" :
					"The two passwords do not match.");
			};
			$p1.on("input", check);
			$p2.on("input", check);
		}
	});
}(jQuery));
