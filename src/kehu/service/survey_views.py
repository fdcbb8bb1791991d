"""The customer's survey pages: one click records the score, then an optional comment. No login: the
signed token is the key. Every bad link (tampered, expired, used, of a disabled organisation) gets a page
that says so, never an error 500."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from kehu.core.errors import ValidationFailed
from kehu.service import survey_services
from kehu.service.survey_models import SCORES, SurveyResponse

# The status each unusable link answers with.
STATUS = {"invalid": 404, "expired": 410, "unavailable": 404, "unanswered": 400, "commented": 200}


def _link_error(request: HttpRequest, error: survey_services.SurveyLinkError) -> HttpResponse:
    return render(
        request,
        "service/survey/problem.html",
        {"reason": error.reason, "survey": error.survey},
        status=STATUS.get(error.reason, 400),
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """With ?score=1..5: record it (the first score stands) and offer the comment box. Without: the five
    score links again."""
    score = request.GET.get("score")
    try:
        if score is None or request.method == "HEAD":  # link checkers send HEAD: they never vote
            survey = survey_services.survey_from_token(token)
            answered = SurveyResponse.objects.filter(survey=survey).first()
            return render(
                request,
                "service/survey/answer.html",
                {"survey": survey, "token": token, "scores": SCORES, "response": answered, "new": False},
            )
        result = survey_services.survey_answer(token=token, score=score)
    except survey_services.SurveyLinkError as error:
        return _link_error(request, error)
    except ValidationFailed as error:
        survey = survey_services.survey_from_token(token)
        return render(
            request,
            "service/survey/answer.html",
            {"survey": survey, "token": token, "scores": SCORES, "error": error.message, "response": None},
            status=400,
        )
    context = {
        "survey": result.survey,
        "token": token,
        "response": result.response,
        "new": result.new,
        "scores": SCORES,
    }
    return render(request, "service/survey/answer.html", context)


@never_cache
@require_POST
def comment(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey_services.survey_comment(token=token, comment=request.POST.get("comment", ""))
    except survey_services.SurveyLinkError as error:
        return _link_error(request, error)
    except ValidationFailed as error:
        survey = survey_services.survey_from_token(token)
        response = SurveyResponse.objects.get(survey=survey)
        context = {
            "survey": survey,
            "token": token,
            "response": response,
            "scores": SCORES,
            "comment_error": error.message,
            "comment": request.POST.get("comment", ""),
        }
        return render(request, "service/survey/answer.html", context, status=400)
    return render(request, "service/survey/thanks.html", {"survey": survey_services.survey_from_token(token)})
